//! Columns above the caller's clearance in a native query.
//!
//! A restricted column is a response field of the definition whose level is above the
//! caller's clearance, recognised by its `column_name()` wherever an identifier spells it —
//! quoted or not, in any case, qualified (`c.phone`, `db.c.phone`) or not (see
//! [`fold_name`], which folds more than any database does). The rules:
//!
//! - A restricted name may appear only *directly* in an expression of the top-level SELECT
//!   list: inside functions, CASE, comparisons (`phone LIKE '138%' AS x`) and aggregates, but
//!   not in a subquery or a window specification (`OVER (…)`) there. Such an item is
//!   *hidden*: its result column is masked or omitted. An alias naming a restricted column
//!   (`name AS phone`) hides its item too.
//! - Anywhere else — WHERE, JOIN ON/USING, GROUP BY, HAVING, ORDER BY, named windows,
//!   QUALIFY, DISTINCT ON, LIMIT, subqueries of every kind, CTEs, derived tables, table
//!   aliases — the query is refused with `Forbidden.Field`. So is the alias of a hidden item
//!   (`SELECT phone AS x … ORDER BY x`), since databases resolve such aliases.
//! - A query whose body is a set operation (`UNION`, `INTERSECT`, `EXCEPT`) has no top-level
//!   SELECT list: any restricted name, and any `*`, in it is refused.
//! - `*` and `t.*` are allowed only as items of the top-level SELECT list; the columns they
//!   bring whose output name matches a restricted column are hidden by name. Everywhere else
//!   (`EXISTS (SELECT * …)`, `(1, 'x') IN (SELECT * …)`, derived tables) a `*` would hand
//!   restricted values on by position, so it is refused. For the same reason table and CTE
//!   aliases with column lists (`users AS u(a, b, c)`), NATURAL joins, DISTINCT over `*`, and
//!   ordinal `ORDER BY n` / `GROUP BY n` (or `ALL`) when an item is hidden or a `*` is present
//!   are refused.
//! - A whole row (`u`, `u::text`, `concat(u.*)`, `(u).phone`, PostgreSQL reads them as a
//!   composite of every column) counts as a reference to every restricted column.
//!
//! Hidden items are not evaluated by the database at all: every restricted reference in them
//! is replaced, in the regenerated SQL, by a NULL of the field's declared type, and the item
//! keeps the name the database would have given it. The shape of the query (aggregation,
//! row count) is unchanged, and no result, error or delay can depend on a restricted value.
//!
//! One file on purpose: the rules are one security decision, and every case of the walk that
//! enforces them is here to be read and reviewed together.

use std::collections::HashSet;
use std::ops::ControlFlow;

use catalog::model::{MaskMode, ParamType, ResponseField, ScalarType, SecurityLevel};
use sqlparser::ast::{
    AccessExpr, CastKind, DataType, Distinct, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, JoinConstraint, JoinOperator, OrderByKind, Query, Select, SelectItem, SelectItemQualifiedWildcardKind,
    SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, TrimWhereField, Value, ValueWithSpan, Visit, VisitMut,
    Visitor, VisitorMut,
};
use sqlparser::parser::Parser;

use super::parser_dialect;
use super::walk::Refusal;
use crate::error::{ApiError, cut_short};
use crate::sql::dialect::Dialect;
use crate::sql::mask::{Masking, ProjectionItem, fold_name};

/// The columns one clearance may not see in a native API, compiled once per version.
#[derive(Debug, Clone)]
pub struct Restricted {
    mode: MaskMode,
    dialect: Dialect,
    columns: Vec<RestrictedColumn>,
}

#[derive(Debug, Clone)]
struct RestrictedColumn {
    folded: String,
    /// As the definition writes it, for messages and SQLite's output names.
    name: String,
    level: SecurityLevel,
    /// `CAST(NULL AS <declared type>)` in the dialect, standing in for the column.
    null: Expr,
}

impl Restricted {
    /// The restriction for `fields`, the response fields above one clearance.
    pub fn compile(dialect: Dialect, fields: &[&ResponseField], mode: MaskMode) -> Restricted {
        let columns = fields
            .iter()
            .map(|f| RestrictedColumn {
                folded: fold_name(f.column_name()),
                name: f.column_name().to_owned(),
                level: f.security_level,
                null: typed_null(dialect, f.field_type),
            })
            .collect();
        Restricted { mode, dialect, columns }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    fn column(&self, folded: &str) -> Option<&RestrictedColumn> {
        self.columns.iter().find(|c| c.folded == folded)
    }

    /// The restricted columns as `phone (L3), salary (L4)`.
    fn listed(&self) -> String {
        let names: Vec<String> = self.columns.iter().map(|c| format!("{} ({})", c.name, c.level.as_str())).collect();
        names.join(", ")
    }
}

fn null() -> Expr {
    Expr::value(Value::Null)
}

/// A NULL typed like the field, so that expressions around it keep resolving
/// (`date_trunc('month', CAST(NULL AS TIMESTAMP))`). Parsed rather than built, so that it
/// prints and parses back to itself.
fn typed_null(dialect: Dialect, ty: ParamType) -> Expr {
    let scalar = match ty {
        ParamType::Scalar(s) => s,
        ParamType::Array(_) | ParamType::Identifier => ScalarType::String,
    };
    let name = match (dialect, scalar) {
        (Dialect::Postgres, ScalarType::String) => "TEXT",
        (Dialect::Postgres, ScalarType::Int) => "BIGINT",
        (Dialect::Postgres, ScalarType::Float) => "DOUBLE PRECISION",
        (Dialect::Postgres, ScalarType::Decimal) => "NUMERIC",
        (Dialect::Postgres, ScalarType::Bool) => "BOOLEAN",
        (Dialect::Postgres, ScalarType::Date) => "DATE",
        (Dialect::Postgres, ScalarType::DateTime) => "TIMESTAMP",
        (Dialect::Postgres, ScalarType::Json) => "JSONB",
        (Dialect::Mysql, ScalarType::String | ScalarType::Json) => "CHAR",
        (Dialect::Mysql, ScalarType::Int | ScalarType::Bool) => "SIGNED",
        (Dialect::Mysql, ScalarType::Float) => "DOUBLE",
        (Dialect::Mysql, ScalarType::Decimal) => "DECIMAL(65, 30)",
        (Dialect::Mysql, ScalarType::Date) => "DATE",
        (Dialect::Mysql, ScalarType::DateTime) => "DATETIME",
        (Dialect::Sqlite, ScalarType::Int | ScalarType::Bool) => "INTEGER",
        (Dialect::Sqlite, ScalarType::Float) => "REAL",
        (Dialect::Sqlite, ScalarType::Decimal) => "NUMERIC",
        (Dialect::Sqlite, _) => "TEXT",
    };
    Parser::new(parser_dialect(dialect))
        .try_with_sql(&format!("CAST(NULL AS {name})"))
        .and_then(|mut p| p.parse_expr())
        .unwrap_or_else(|_| null())
}

fn refuse(why: impl std::fmt::Display) -> Refusal {
    Box::new(ApiError::forbidden_field(why))
}

/// Checks a parsed query against the restriction and rewrites its hidden items. Returns what
/// the encoder must hide, or `None` when the result needs no masking.
pub(super) fn apply(restricted: &Restricted, statement: &mut Statement) -> Result<Option<Masking>, Refusal> {
    if restricted.is_empty() {
        return Ok(None);
    }
    let Statement::Query(query) = statement else {
        return Ok(None);
    };
    let top: Option<*const Select> = match &*query.body {
        SetExpr::Select(select) => Some(&**select as *const Select),
        _ => None,
    };
    let mut shape = Shape { top, relations: HashSet::new(), refusal: None };
    let _ = Visit::visit(&**query, &mut shape);
    if let Some(why) = shape.refusal {
        return Err(refuse(format!("{why}: this API has columns above your clearance ({})", restricted.listed())));
    }
    let relations = shape.relations;

    let mut names: HashSet<String> = restricted.columns.iter().map(|c| c.folded.clone()).collect();
    let select = match &*query.body {
        SetExpr::Select(select) => Some(&**select),
        _ => None,
    };
    let output_names = order_by_output_names(query, select);
    // Which top-level items are hidden; aliases of hidden items become restricted names too,
    // until nothing changes.
    let (all_hits, items) = loop {
        let all_hits = find_hits_except(&**query, &names, &relations, &output_names, false);
        let items: Vec<ItemHits> = match select {
            Some(select) => select.projection.iter().map(|item| ItemHits::of(item, &names, &relations)).collect(),
            None => Vec::new(),
        };
        let before = names.len();
        for (item, hits) in select.iter().flat_map(|s| s.projection.iter()).zip(&items) {
            if hits.hidden
                && let SelectItem::ExprWithAlias { alias, .. } = item
            {
                names.insert(fold_name(&alias.value));
            }
        }
        if names.len() == before {
            break (all_hits, items);
        }
    };
    let direct: HashSet<HitKey> = items.iter().flat_map(|i| i.direct.iter().copied()).collect();
    if let Some(hit) = all_hits.iter().find(|h| !direct.contains(&h.key)) {
        return Err(refuse(describe(restricted, hit, top.is_some())));
    }
    let Some(select) = select else {
        return Ok(None);
    };
    let hidden_any = items.iter().any(|i| i.hidden);
    let wildcards = select.projection.iter().filter(|i| is_wildcard(i)).count();
    if !hidden_any && wildcards == 0 {
        return Ok(None);
    }
    check_positional(query, select, wildcards > 0)?;

    // The rewrite: hidden items compute nothing from restricted columns.
    let dialect = restricted.dialect;
    let mut kinds = Vec::with_capacity(items.len());
    let mut hidden_names = Vec::new();
    let SetExpr::Select(select) = &mut *query.body else {
        return Ok(None);
    };
    for (item, hits) in select.projection.iter_mut().zip(&items) {
        if is_wildcard(item) {
            kinds.push(ProjectionItem::Wildcard);
            continue;
        }
        if !hits.hidden {
            kinds.push(ProjectionItem::Shown);
            continue;
        }
        kinds.push(ProjectionItem::Hidden);
        if let SelectItem::UnnamedExpr(expr) = item {
            let name = output_name(dialect, restricted, expr);
            let expr = std::mem::replace(expr, null());
            *item = SelectItem::ExprWithAlias { expr, alias: Ident::with_quote(quote_char(dialect), name) };
        }
        if let SelectItem::ExprWithAlias { expr, alias } = item {
            let mut rewriter = Rewriter { restricted, names: &names, relations: &relations };
            let _ = VisitMut::visit(expr, &mut rewriter);
            if !find_hits(&*expr, &names, &relations, false).is_empty() {
                *expr = null();
            }
            hidden_names.push(alias.value.clone());
        }
    }
    let mut by_name: Vec<String> = restricted.columns.iter().map(|c| c.name.clone()).collect();
    if wildcards > 1 {
        by_name.extend(hidden_names);
    }
    Ok(Some(Masking::by_projection(restricted.mode, kinds, &by_name)))
}

/// The top-level `ORDER BY` items that are a bare name equal to a SELECT-list alias
/// (`SELECT city, count(*) AS customers FROM customers … ORDER BY customers`), by address.
fn order_by_output_names(query: &Query, select: Option<&Select>) -> HashSet<usize> {
    let aliases: HashSet<String> = select
        .iter()
        .flat_map(|s| &s.projection)
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(fold_name(&alias.value)),
            _ => None,
        })
        .collect();
    let mut found = HashSet::new();
    if let Some(OrderByKind::Expressions(exprs)) = query.order_by.as_ref().map(|o| &o.kind) {
        for order in exprs {
            if let Expr::Identifier(ident) = &order.expr
                && aliases.contains(&fold_name(&ident.value))
            {
                found.insert(&order.expr as *const Expr as usize);
            }
        }
    }
    found
}

fn quote_char(dialect: Dialect) -> char {
    match dialect {
        Dialect::Mysql => '`',
        Dialect::Postgres | Dialect::Sqlite => '"',
    }
}

fn is_wildcard(item: &SelectItem) -> bool {
    matches!(item, SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..))
}

/// Ordinals and `ALL` pick columns by position, which a `*` or a hidden item makes unsafe.
fn check_positional(query: &Query, select: &Select, has_wildcard: bool) -> Result<(), Refusal> {
    let ordinal = |e: &Expr| {
        let mut e = e;
        while let Expr::Nested(inner) = e {
            e = inner;
        }
        matches!(e, Expr::Value(ValueWithSpan { value: Value::Number(..), .. }))
    };
    let by_position = "ordinal positions (`ORDER BY 2`, `GROUP BY 1`, `DISTINCT ON (1)`) and `ALL` are not \
                       accepted when the SELECT list has `*` or a restricted column: name the columns";
    if let Some(order_by) = &query.order_by {
        match &order_by.kind {
            OrderByKind::All(_) => return Err(refuse(by_position)),
            OrderByKind::Expressions(exprs) => {
                if exprs.iter().any(|o| ordinal(&o.expr)) {
                    return Err(refuse(by_position));
                }
            }
        }
    }
    match &select.group_by {
        GroupByExpr::All(_) => return Err(refuse(by_position)),
        GroupByExpr::Expressions(exprs, _) => {
            let mut stack: Vec<&Expr> = exprs.iter().collect();
            while let Some(e) = stack.pop() {
                match e {
                    Expr::Rollup(sets) | Expr::Cube(sets) | Expr::GroupingSets(sets) => {
                        stack.extend(sets.iter().flatten())
                    }
                    Expr::Tuple(items) => stack.extend(items),
                    e if ordinal(e) => return Err(refuse(by_position)),
                    _ => {}
                }
            }
        }
    }
    match &select.distinct {
        Some(Distinct::On(exprs)) if exprs.iter().any(ordinal) => Err(refuse(by_position)),
        Some(Distinct::Distinct | Distinct::On(_)) if has_wildcard => {
            Err(refuse("DISTINCT over `*` compares restricted columns: name the columns you need"))
        }
        _ => Ok(()),
    }
}

// ---- what a query may not do at all under a restriction ------------------------------------

/// Refuses structures that move columns by position or under other names, and collects the
/// names of every relation (table, alias, CTE, derived table) for whole-row references.
struct Shape {
    top: Option<*const Select>,
    relations: HashSet<String>,
    refusal: Option<String>,
}

impl Shape {
    fn refuse(&mut self, why: impl Into<String>) -> ControlFlow<()> {
        self.refusal = Some(why.into());
        ControlFlow::Break(())
    }

    fn alias(&mut self, alias: &Option<TableAlias>) -> ControlFlow<()> {
        if let Some(alias) = alias {
            self.relations.insert(fold_name(&alias.name.value));
            if !alias.columns.is_empty() {
                return self.refuse(format!(
                    "the column list of alias `{}` renames columns by position",
                    cut_short(&alias.to_string())
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn joins(&mut self, from: &[TableWithJoins]) -> ControlFlow<()> {
        for join in from.iter().flat_map(|t| &t.joins) {
            if let Some(JoinConstraint::Natural) = join_constraint(&join.join_operator) {
                return self.refuse("NATURAL joins match columns by name, restricted ones included: use ON");
            }
        }
        ControlFlow::Continue(())
    }
}

fn join_constraint(op: &JoinOperator) -> Option<&JoinConstraint> {
    match op {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c)
        | JoinOperator::CrossJoin(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c)
        | JoinOperator::StraightJoin(c)
        | JoinOperator::AsOf { constraint: c, .. } => Some(c),
        _ => None,
    }
}

impl Visitor for Shape {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        for cte in query.with.iter().flat_map(|w| &w.cte_tables) {
            self.relations.insert(fold_name(&cte.alias.name.value));
            if !cte.alias.columns.is_empty() {
                return self.refuse(format!(
                    "the column list of `WITH {}` renames columns by position",
                    cut_short(&cte.alias.to_string())
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let is_top = self.top == Some(select as *const Select);
        if select.exclude.is_some() {
            return self.refuse("SELECT … EXCLUDE is not supported");
        }
        for item in &select.projection {
            match item {
                SelectItem::Wildcard(options) | SelectItem::QualifiedWildcard(_, options) => {
                    if !is_top {
                        return self.refuse(
                            "`*` is accepted only in the top-level SELECT list (in a subquery, CTE or set \
                             operation it passes restricted columns on): name the columns",
                        );
                    }
                    if options.opt_ilike.is_some()
                        || options.opt_exclude.is_some()
                        || options.opt_except.is_some()
                        || options.opt_replace.is_some()
                        || options.opt_rename.is_some()
                        || options.opt_alias.is_some()
                    {
                        return self.refuse("options on `*` (EXCLUDE, EXCEPT, REPLACE, RENAME, AS) are not supported");
                    }
                    if let SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::Expr(_), _) = item {
                        return self.refuse("`(expression).*` is not supported: name the columns");
                    }
                }
                SelectItem::ExprWithAliases { .. } => {
                    return self.refuse("an expression with several aliases is not supported");
                }
                SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. } => {}
            }
        }
        self.joins(&select.from)
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                    self.relations.insert(fold_name(&last.value));
                }
                self.alias(alias)
            }
            TableFactor::NestedJoin { table_with_joins, alias } => {
                self.joins(std::slice::from_ref(&**table_with_joins))?;
                self.alias(alias)
            }
            TableFactor::Derived { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::Function { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::JsonTable { alias, .. }
            | TableFactor::OpenJsonTable { alias, .. }
            | TableFactor::XmlTable { alias, .. }
            | TableFactor::Pivot { alias, .. }
            | TableFactor::Unpivot { alias, .. } => self.alias(alias),
            _ => self.refuse(format!("`{}` is not supported in FROM", cut_short(&factor.to_string()))),
        }
    }
}

// ---- references ------------------------------------------------------------------------------

/// A node that references restricted data: its kind and address, stable while the tree is
/// not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct HitKey(u8, usize);

#[derive(Debug, Clone)]
struct Hit {
    key: HitKey,
    what: HitWhat,
}

#[derive(Debug, Clone)]
enum HitWhat {
    /// An identifier or double-quoted string spelling a restricted name, as written.
    Name(String),
    /// A whole row or `*` inside an expression.
    Row(String),
}

/// Finds references to restricted data. In item mode it also tells which are direct: at the
/// item's own query level and outside window specifications.
struct HitFinder<'a> {
    names: &'a HashSet<String>,
    relations: &'a HashSet<String>,
    /// Top-level `ORDER BY` items that name a SELECT-list alias: every database reads them as
    /// that output column, not as a whole row of a relation with the same name.
    output_names: &'a HashSet<usize>,
    item_mode: bool,
    depth: usize,
    excluded: HashSet<HitKey>,
    hits: Vec<(Hit, bool)>,
}

impl HitFinder<'_> {
    fn hit(&mut self, key: HitKey, what: HitWhat) {
        let direct = self.item_mode && self.depth == 0 && !self.excluded.contains(&key);
        self.hits.push((Hit { key, what }, direct));
    }

    fn is_relation(&self, ident: &Ident) -> bool {
        self.relations.contains(&fold_name(&ident.value))
    }
}

fn find_hits<V: Visit + ?Sized>(
    node: &V,
    names: &HashSet<String>,
    relations: &HashSet<String>,
    item_mode: bool,
) -> Vec<Hit> {
    find_hits_except(node, names, relations, &HashSet::new(), item_mode)
}

fn find_hits_except<V: Visit + ?Sized>(
    node: &V,
    names: &HashSet<String>,
    relations: &HashSet<String>,
    output_names: &HashSet<usize>,
    item_mode: bool,
) -> Vec<Hit> {
    let mut finder =
        HitFinder { names, relations, output_names, item_mode, depth: 0, excluded: HashSet::new(), hits: Vec::new() };
    let _ = node.visit(&mut finder);
    finder.hits.into_iter().map(|(hit, _)| hit).collect()
}

impl Visitor for HitFinder<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<()> {
        if self.names.contains(&fold_name(&ident.value)) {
            self.hit(HitKey(0, ident as *const Ident as usize), HitWhat::Name(ident.value.clone()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        // MySQL reads "x" as a string, but as a name under ANSI_QUOTES; SQLite as a name
        // when a column has it.
        if let Value::DoubleQuotedString(text) = &value.value
            && self.names.contains(&fold_name(text))
        {
            self.hit(HitKey(1, value as *const ValueWithSpan as usize), HitWhat::Name(text.clone()));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let key = HitKey(2, expr as *const Expr as usize);
        match expr {
            Expr::Identifier(ident) if self.is_relation(ident) && !self.output_names.contains(&key.1) => {
                self.hit(key, HitWhat::Row(ident.value.clone()))
            }
            Expr::CompoundIdentifier(parts) if parts.last().is_some_and(|p| self.is_relation(p)) => {
                self.hit(key, HitWhat::Row(expr.to_string()))
            }
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => self.hit(key, HitWhat::Row(expr.to_string())),
            Expr::Function(function) => {
                let is_count = function.name.0.len() == 1
                    && function.name.0[0].as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case("count"));
                if let FunctionArguments::List(list) = &function.args {
                    for arg in &list.args {
                        let arg_expr = match arg {
                            FunctionArg::Named { arg, .. }
                            | FunctionArg::ExprNamed { arg, .. }
                            | FunctionArg::Unnamed(arg) => arg,
                        };
                        let whole_row = match arg_expr {
                            FunctionArgExpr::Expr(_) => false,
                            FunctionArgExpr::Wildcard => !is_count,
                            FunctionArgExpr::QualifiedWildcard(_) | FunctionArgExpr::WildcardWithOptions(_) => true,
                        };
                        if whole_row {
                            let key = HitKey(3, arg_expr as *const FunctionArgExpr as usize);
                            self.hit(key, HitWhat::Row(format!("{} in {}", arg_expr, function.name)));
                        }
                    }
                }
                if self.item_mode
                    && let Some(over) = &function.over
                {
                    let mut inner = HitFinder {
                        names: self.names,
                        relations: self.relations,
                        output_names: self.output_names,
                        item_mode: false,
                        depth: 0,
                        excluded: HashSet::new(),
                        hits: Vec::new(),
                    };
                    let _ = over.visit(&mut inner);
                    self.excluded.extend(inner.hits.into_iter().map(|(hit, _)| hit.key));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The references in one top-level SELECT item.
struct ItemHits {
    /// The item references restricted data (or is aliased with a restricted name).
    hidden: bool,
    /// Its direct references, which are allowed.
    direct: Vec<HitKey>,
}

impl ItemHits {
    fn of(item: &SelectItem, names: &HashSet<String>, relations: &HashSet<String>) -> ItemHits {
        let none = HashSet::new();
        let mut finder = HitFinder {
            names,
            relations,
            output_names: &none,
            item_mode: true,
            depth: 0,
            excluded: HashSet::new(),
            hits: Vec::new(),
        };
        match item {
            SelectItem::UnnamedExpr(expr) => {
                let _ = expr.visit(&mut finder);
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let _ = expr.visit(&mut finder);
                let _ = alias.visit(&mut finder);
            }
            // Wildcards are located by name; the qualifier is checked like any identifier.
            _ => return ItemHits { hidden: false, direct: Vec::new() },
        }
        ItemHits {
            hidden: !finder.hits.is_empty(),
            direct: finder.hits.iter().filter(|(_, direct)| *direct).map(|(hit, _)| hit.key).collect(),
        }
    }
}

fn describe(restricted: &Restricted, hit: &Hit, has_select_list: bool) -> String {
    let place = if has_select_list {
        "it may only be selected directly in the top-level SELECT list (its values are then masked), \
         not used in WHERE, JOIN, GROUP BY, HAVING, ORDER BY, window specifications, subqueries or CTEs"
    } else {
        "a query with UNION, INTERSECT or EXCEPT may not use it at all"
    };
    match &hit.what {
        HitWhat::Name(name) => match restricted.column(&fold_name(name)) {
            Some(column) => {
                format!("column `{}` needs clearance {}: {place}", cut_short(&column.name), column.level.as_str())
            }
            None => format!(
                "`{}` names a selected column derived from a restricted column ({}): {place}",
                cut_short(name),
                restricted.listed()
            ),
        },
        HitWhat::Row(what) => format!(
            "`{}` stands for whole rows, which include restricted columns ({}): name the columns you need",
            cut_short(what),
            restricted.listed()
        ),
    }
}

// ---- the rewrite -------------------------------------------------------------------------------

/// Replaces every restricted reference in a hidden item by a NULL.
struct Rewriter<'a> {
    restricted: &'a Restricted,
    names: &'a HashSet<String>,
    relations: &'a HashSet<String>,
}

impl Rewriter<'_> {
    fn for_name(&self, ident: &Ident) -> Option<Expr> {
        let folded = fold_name(&ident.value);
        if let Some(column) = self.restricted.column(&folded) {
            return Some(column.null.clone());
        }
        (self.names.contains(&folded) || self.relations.contains(&folded)).then(null)
    }

    fn replacement(&self, expr: &Expr) -> Option<Expr> {
        match expr {
            Expr::Identifier(ident) => self.for_name(ident),
            Expr::CompoundIdentifier(parts) => parts.last().and_then(|p| self.for_name(p)),
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => Some(null()),
            Expr::Value(ValueWithSpan { value: Value::DoubleQuotedString(text), .. })
                if self.names.contains(&fold_name(text)) =>
            {
                Some(null())
            }
            // `(u).phone`, `phone[1]`: the access goes with its root.
            Expr::CompoundFieldAccess { access_chain, .. } => {
                let last = access_chain.iter().rev().find_map(|a| match a {
                    AccessExpr::Dot(Expr::Identifier(ident)) => Some(ident),
                    _ => None,
                });
                if find_hits(expr, self.names, self.relations, false).is_empty() {
                    None
                } else {
                    Some(
                        last.and_then(|i| self.restricted.column(&fold_name(&i.value)))
                            .map_or_else(null, |c| c.null.clone()),
                    )
                }
            }
            _ => None,
        }
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(replacement) = self.replacement(expr) {
            *expr = replacement;
        }
        if let Expr::Function(function) = expr {
            let is_count = function.name.to_string().eq_ignore_ascii_case("count");
            if let FunctionArguments::List(list) = &mut function.args {
                for arg in &mut list.args {
                    let arg_expr = match arg {
                        FunctionArg::Named { arg, .. }
                        | FunctionArg::ExprNamed { arg, .. }
                        | FunctionArg::Unnamed(arg) => arg,
                    };
                    let whole_row = match arg_expr {
                        FunctionArgExpr::Expr(_) => false,
                        FunctionArgExpr::Wildcard => !is_count,
                        FunctionArgExpr::QualifiedWildcard(_) | FunctionArgExpr::WildcardWithOptions(_) => true,
                    };
                    if whole_row {
                        *arg_expr = FunctionArgExpr::Expr(null());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

// ---- output names ----------------------------------------------------------------------------

/// The name the database gives an unaliased SELECT item, so that a hidden item keeps its key.
///
/// MySQL and SQLite name an expression by its text (the regenerated text here, which is what
/// they receive); a column reference by its name (SQLite: the declared one). PostgreSQL
/// follows `FigureColname`: the column or function name, `case`, a cast's type, else
/// `?column?`.
fn output_name(dialect: Dialect, restricted: &Restricted, expr: &Expr) -> String {
    let mut inner = expr;
    if dialect != Dialect::Postgres {
        while let Expr::Nested(e) = inner {
            inner = e;
        }
    }
    let column = match inner {
        Expr::Identifier(ident) => Some(ident),
        Expr::CompoundIdentifier(parts) => parts.last(),
        _ => None,
    };
    match dialect {
        Dialect::Mysql => column.map_or_else(|| expr.to_string(), |c| c.value.clone()),
        Dialect::Sqlite => match column {
            Some(c) => restricted.column(&fold_name(&c.value)).map_or_else(|| c.value.clone(), |r| r.name.clone()),
            None => expr.to_string(),
        },
        Dialect::Postgres => pg_name(expr).map_or_else(|| "?column?".to_owned(), |(name, _)| name),
    }
}

/// PostgreSQL's output name and its strength (2: a name; 1: a fallback a cast may override).
fn pg_name(expr: &Expr) -> Option<(String, u8)> {
    let ident = |i: &Ident| match i.quote_style {
        Some(_) => i.value.clone(),
        None => i.value.to_ascii_lowercase(),
    };
    Some(match expr {
        Expr::Identifier(i) => (ident(i), 2),
        Expr::CompoundIdentifier(parts) => (ident(parts.last()?), 2),
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last()? {
            AccessExpr::Dot(Expr::Identifier(i)) => (ident(i), 2),
            AccessExpr::Dot(_) => return None,
            AccessExpr::Subscript(_) => return pg_name(root),
        },
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => return pg_name(inner),
        Expr::Function(f) => (ident(f.name.0.last()?.as_ident()?), 2),
        Expr::Cast { expr: inner, data_type, kind, .. } => {
            if let Some((name, 2)) = pg_name(inner) {
                return Some((name, 2));
            }
            if matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                return None;
            }
            (pg_type_name(data_type)?, 1)
        }
        Expr::TypedString(typed) => (pg_type_name(&typed.data_type)?, 1),
        Expr::Case { .. } => ("case".to_owned(), 1),
        Expr::Trim { trim_where, .. } => (
            match trim_where {
                Some(TrimWhereField::Leading) => "ltrim",
                Some(TrimWhereField::Trailing) => "rtrim",
                _ => "btrim",
            }
            .to_owned(),
            2,
        ),
        Expr::Substring { .. } => ("substring".to_owned(), 2),
        Expr::Extract { .. } => ("extract".to_owned(), 2),
        Expr::Position { .. } => ("position".to_owned(), 2),
        Expr::Overlay { .. } => ("overlay".to_owned(), 2),
        Expr::Ceil { .. } => ("ceil".to_owned(), 2),
        Expr::Floor { .. } => ("floor".to_owned(), 2),
        Expr::Exists { .. } => ("exists".to_owned(), 2),
        Expr::Array(_) => ("array".to_owned(), 2),
        Expr::Tuple(_) => ("row".to_owned(), 2),
        Expr::Interval(_) => ("interval".to_owned(), 1),
        Expr::AtTimeZone { .. } => ("timezone".to_owned(), 2),
        _ => return None,
    })
}

/// PostgreSQL's internal name of a built-in type, as it names a cast column.
fn pg_type_name(data_type: &DataType) -> Option<String> {
    let text = data_type.to_string().to_ascii_lowercase();
    let base = text.split('(').next().unwrap_or("").trim();
    Some(
        match base {
            "text" => "text",
            "int" | "integer" | "int4" => "int4",
            "bigint" | "int8" => "int8",
            "smallint" | "int2" => "int2",
            "numeric" | "decimal" | "dec" => "numeric",
            "varchar" | "character varying" => "varchar",
            "char" | "character" | "bpchar" => "bpchar",
            "double precision" | "float8" | "double" => "float8",
            "real" | "float4" => "float4",
            "boolean" | "bool" => "bool",
            "date" => "date",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamptz" | "timestamp with time zone" => "timestamptz",
            "time" | "time without time zone" => "time",
            "json" => "json",
            "jsonb" => "jsonb",
            "uuid" => "uuid",
            "bytea" => "bytea",
            "interval" => "interval",
            _ => return None,
        }
        .to_owned(),
    )
}
