//! Native mode: a caller sends one SELECT, which is parsed in the datasource's dialect,
//! checked against the API's allowed tables and functions, capped to the API's row limit and
//! regenerated from the syntax tree.
//!
//! The caller's text never reaches the database: what runs is the checked tree printed back.
//! Printing is then parsed again and must give the same tree, because a printer that loses
//! a detail (`- -1` printed as the comment `--1`) would otherwise run something unchecked.
//!
//! - `policy`: the allowed tables and functions and the per-dialect name rules;
//! - `walk`: the walk that checks every relation, function, literal and identifier;
//! - `cap`: the row cap on the top-level query;
//! - `restrict`: columns above the caller's clearance — where they may appear, and the
//!   rewrite that hides them.

mod cap;
mod policy;
mod restrict;
mod walk;

#[cfg(test)]
mod restrict_tests;
#[cfg(test)]
mod tests;

use catalog::model::{MaskMode, NativeSpec, ResponseField};
use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::{ApiError, DefinitionError};
use crate::sql::dialect::Dialect;
use crate::sql::mask::Masking;
use crate::sql::render::RenderedSql;
use policy::Allowed;
pub use restrict::Restricted;

/// The longest query text accepted, in bytes. Native queries are written by hand; anything
/// longer is more likely an attempt to make parsing expensive.
const MAX_SQL_BYTES: usize = 64 * 1024;

/// Comment openers that MySQL and MariaDB execute (`/*! … */`, `/*M! … */`) or read as
/// optimizer hints (`/*+ … */`). The parser drops comments, so what they hide would be
/// invisible to the checks; they are refused outright, even inside string literals.
const EXECUTABLE_COMMENTS: &[&str] = &["/*!", "/*+", "/*m!"];

/// What a native API allows, normalised for one dialect.
#[derive(Debug, Clone)]
pub struct NativePolicy {
    allowed: Allowed,
}

impl NativePolicy {
    /// Checks a definition at publish time. `Err` says what to fix in it.
    pub fn compile(spec: &NativeSpec, dialect: Dialect, default_schema: &str) -> Result<NativePolicy, DefinitionError> {
        Ok(NativePolicy { allowed: Allowed::compile(spec, dialect, default_schema)? })
    }

    /// Checks one caller's query and returns the SQL to run: regenerated from the checked
    /// syntax tree, with a `LIMIT` of at most `row_cap`, and no binds.
    pub fn check(&self, sql: &str, row_cap: u32) -> Result<RenderedSql, ApiError> {
        self.check_restricted(sql, row_cap, None).map(|(rendered, _)| rendered)
    }

    /// The columns `fields` (response fields above one clearance) as a restriction for
    /// [`NativePolicy::check_restricted`].
    pub fn restrict(&self, fields: &[&ResponseField], mode: MaskMode) -> Restricted {
        Restricted::compile(self.allowed.dialect(), fields, mode)
    }

    /// Like [`NativePolicy::check`], for a caller who may not see the `restricted` columns:
    /// refuses queries that use them other than by selecting them, rewrites the items that
    /// select them so the database computes nothing from them, and says which result
    /// columns the encoder must hide (`None`: none).
    pub fn check_restricted(
        &self,
        sql: &str,
        row_cap: u32,
        restricted: Option<&Restricted>,
    ) -> Result<(RenderedSql, Option<Masking>), ApiError> {
        let dialect = self.allowed.dialect();
        refuse_raw_tricks(sql)?;
        refuse_stacked_statements(sql, dialect)?;
        let mut statement = parse_one_select(sql, dialect)?;
        walk::check_statement(&self.allowed, &statement).map_err(|refusal| *refusal)?;
        let masking = match restricted {
            Some(restricted) => restrict::apply(restricted, &mut statement).map_err(|refusal| *refusal)?,
            None => None,
        };
        if let Statement::Query(query) = &mut statement {
            cap::apply_row_cap(query, row_cap).map_err(|refusal| *refusal)?;
        }
        let sql = regenerate(&statement, dialect)?;
        Ok((RenderedSql { sql, binds: Vec::new() }, masking))
    }
}

fn invalid(why: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_parameter_because("sql", why)
}

fn parser_dialect(dialect: Dialect) -> &'static dyn SqlDialect {
    match dialect {
        Dialect::Postgres => &PostgreSqlDialect {},
        Dialect::Mysql => &MySqlDialect {},
        Dialect::Sqlite => &SQLiteDialect {},
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "PostgreSQL",
        Dialect::Mysql => "MySQL",
        Dialect::Sqlite => "SQLite",
    }
}

/// Refuses what must be caught before parsing: oversized input, NUL bytes and comments that
/// MySQL would execute.
fn refuse_raw_tricks(sql: &str) -> Result<(), ApiError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(invalid(format!("the query is longer than {MAX_SQL_BYTES} bytes: shorten it")));
    }
    if sql.contains('\0') {
        return Err(invalid("the query contains a NUL character: remove it"));
    }
    let lower = sql.to_ascii_lowercase();
    if EXECUTABLE_COMMENTS.iter().any(|opener| lower.contains(opener)) {
        return Err(invalid(
            "comments starting with `/*!` or `/*+` are executed or read as hints by MySQL: remove them",
        ));
    }
    Ok(())
}

/// One statement only: after a `;` nothing but whitespace may follow, not even a comment.
fn refuse_stacked_statements(sql: &str, dialect: Dialect) -> Result<(), ApiError> {
    let tokens = Tokenizer::new(parser_dialect(dialect), sql)
        .tokenize()
        .map_err(|e| invalid(format!("the query is not valid {} SQL: {e}", dialect_name(dialect))))?;
    let after_semicolon = tokens.iter().skip_while(|token| !matches!(token, Token::SemiColon)).skip(1);
    for token in after_semicolon {
        if !matches!(token, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab) | Token::EOF) {
            return Err(invalid("send exactly one SELECT: nothing may follow the `;`"));
        }
    }
    Ok(())
}

/// Parses the text as exactly one statement, which must be a query.
fn parse_one_select(sql: &str, dialect: Dialect) -> Result<Statement, ApiError> {
    let mut statements = Parser::parse_sql(parser_dialect(dialect), sql)
        .map_err(|e| invalid(format!("the query is not valid {} SQL: {e}", dialect_name(dialect))))?;
    if statements.len() != 1 {
        return Err(invalid(format!("send exactly one SELECT statement; received {}", statements.len())));
    }
    match statements.pop() {
        Some(statement @ Statement::Query(_)) => Ok(statement),
        _ => Err(invalid("only a SELECT is accepted")),
    }
}

/// Prints the checked tree and makes sure the printed text parses back to the same tree, so
/// that what the database reads is exactly what was checked.
fn regenerate(statement: &Statement, dialect: Dialect) -> Result<String, ApiError> {
    let sql = statement.to_string();
    let reparsed = Parser::parse_sql(parser_dialect(dialect), &sql).ok();
    match reparsed.as_deref() {
        Some([again]) if again == statement => Ok(sql),
        _ => Err(invalid(
            "the query cannot be regenerated unambiguously (an operator or literal does not \
             survive re-printing, e.g. `- -1`): write it more plainly",
        )),
    }
}
