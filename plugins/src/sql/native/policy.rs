//! What a native API allows, normalised once for its dialect, and the name rules that decide
//! whether a caller's table or function name is one of them.
//!
//! Names are compared the way the database resolves them, so that a spelling is accepted only
//! when the database would find the allowed object under it:
//! PostgreSQL folds unquoted names to lower case and keeps quoted ones exact; MySQL keeps table
//! names exact (they are case-sensitive on Linux) and ignores quoting; SQLite ignores case.
//! Only ASCII letters fold: no database folds other letters in identifiers.

use std::collections::HashSet;

use catalog::model::NativeSpec;
use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

use crate::error::DefinitionError;
use crate::sql::dialect::{Dialect, validate_identifier};

/// The most tables one native API may expose.
pub(super) const MAX_TABLES: usize = 5;

/// Functions every native API may call: aggregates and pure string, number, date and window
/// helpers. None of them reads tables, files, settings or the session, or sleeps.
const SAFE_FUNCTIONS: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    // null handling
    "coalesce",
    "nullif",
    "ifnull",
    // strings
    "lower",
    "upper",
    "length",
    "char_length",
    "character_length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "concat",
    // numbers
    "round",
    "abs",
    "floor",
    "ceil",
    "ceiling",
    "mod",
    "sign",
    "greatest",
    "least",
    // dates and times
    "date",
    "date_trunc",
    "extract",
    "now",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    // window functions
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
];

/// Keywords a database evaluates as a function call even when written without parentheses,
/// which sqlparser reads as plain identifiers. An unquoted identifier with one of these names
/// is checked as a call to that function.
const BARE_WORD_FUNCTIONS: &[&str] = &[
    "current_catalog",
    "current_role",
    "current_schema",
    "current_user",
    "session_user",
    "system_user",
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "utc_date",
    "utc_time",
    "utc_timestamp",
];

/// One allowed table: its schema, when the definition named one, and its name, both folded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedTable {
    schema: Option<String>,
    name: String,
}

/// The tables and functions of one native API, folded for its dialect.
#[derive(Debug, Clone)]
pub(super) struct Allowed {
    dialect: Dialect,
    /// The schema unqualified names resolve in (`public`, the MySQL database, `main`), if known.
    default_schema: Option<String>,
    tables: Vec<AllowedTable>,
    /// Functions the definition adds to [`SAFE_FUNCTIONS`], lower case, `name` or `schema.name`.
    extra_functions: HashSet<String>,
    /// The definition's table names as written, for error messages.
    tables_listed: String,
}

impl Allowed {
    /// Checks and folds a definition. `Err` says what to change in it.
    pub(super) fn compile(
        spec: &NativeSpec,
        dialect: Dialect,
        default_schema: &str,
    ) -> Result<Allowed, DefinitionError> {
        if spec.tables.is_empty() {
            return Err(DefinitionError::at("tables", "a native API needs at least one table in `tables`"));
        }
        if spec.tables.len() > MAX_TABLES {
            return Err(DefinitionError::at(
                "tables",
                format!(
                    "a native API may allow at most {MAX_TABLES} tables; this one lists {}: split it into several APIs",
                    spec.tables.len()
                ),
            ));
        }
        let default_schema = default_schema.trim();
        let tables = (spec.tables.iter())
            .map(|table| compile_table(table, dialect))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| DefinitionError::at("tables", why))?;
        let extra_functions = (spec.functions.iter())
            .map(|function| compile_function(function))
            .collect::<Result<HashSet<_>, _>>()
            .map_err(|why| DefinitionError::at("functions", why))?;
        Ok(Allowed {
            dialect,
            // Without a known default schema, only literally allowed schemas match.
            default_schema: (!default_schema.is_empty()).then(|| fold_plain(dialect, default_schema)),
            tables,
            extra_functions,
            tables_listed: spec.tables.join(", "),
        })
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The allowed tables as the definition wrote them: `users, orders`.
    pub(super) fn tables_listed(&self) -> &str {
        &self.tables_listed
    }

    /// The folded form of a table or CTE name part, as the database compares it.
    pub(super) fn fold_relation(&self, ident: &Ident) -> String {
        fold_relation(self.dialect, ident)
    }

    /// Whether `[schema.]table` names an allowed table.
    ///
    /// An unqualified name resolves in the default schema; a name qualified with the default
    /// schema matches an allowed unqualified table; any other schema must be allowed literally.
    pub(super) fn allows_table(&self, schema: Option<&Ident>, table: &Ident) -> bool {
        let name = self.fold_relation(table);
        let schema = schema.map(|s| self.fold_relation(s));
        self.tables.iter().any(|allowed| {
            allowed.name == name
                && match (&allowed.schema, &schema) {
                    (None, None) => true,
                    (None, Some(s)) | (Some(s), None) => self.default_schema.as_ref() == Some(s),
                    (Some(a), Some(s)) => a == s,
                }
        })
    }

    /// Whether a function name (`name` or `schema.name`) may be called.
    ///
    /// A qualified name is allowed only when the definition lists it qualified: the safe set
    /// is about the built-ins the database finds unqualified, not about look-alikes elsewhere.
    pub(super) fn allows_function(&self, parts: &[&Ident]) -> bool {
        match parts {
            [name] => {
                let name = self.fold_function(name);
                SAFE_FUNCTIONS.contains(&name.as_str()) || self.extra_functions.contains(&name)
            }
            [schema, name] => {
                let qualified = format!("{}.{}", self.fold_function(schema), self.fold_function(name));
                self.extra_functions.contains(&qualified)
            }
            _ => false,
        }
    }

    /// The function an unquoted identifier stands for when the database evaluates it as a
    /// call (`current_user`), if it does.
    pub(super) fn bare_word_function(&self, ident: &Ident) -> Option<String> {
        if ident.quote_style.is_some() {
            return None;
        }
        let name = ident.value.to_ascii_lowercase();
        // Only PostgreSQL treats a bare `user` as `current_user`; elsewhere it is a column.
        let is_call =
            BARE_WORD_FUNCTIONS.contains(&name.as_str()) || (name == "user" && self.dialect == Dialect::Postgres);
        is_call.then_some(name)
    }

    /// Function names are case-insensitive everywhere, except quoted ones in PostgreSQL.
    fn fold_function(&self, ident: &Ident) -> String {
        match self.dialect {
            Dialect::Postgres => fold_relation(Dialect::Postgres, ident),
            Dialect::Mysql | Dialect::Sqlite => ident.value.to_ascii_lowercase(),
        }
    }
}

/// The identifier parts of a name, or `None` when a part is computed (`IDENTIFIER('x')`),
/// which could name anything.
pub(super) fn plain_parts(name: &ObjectName) -> Option<Vec<&Ident>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// Folds a table name part the way `dialect` resolves it.
fn fold_relation(dialect: Dialect, ident: &Ident) -> String {
    match dialect {
        Dialect::Postgres if ident.quote_style.is_some() => ident.value.clone(),
        Dialect::Postgres | Dialect::Sqlite => ident.value.to_ascii_lowercase(),
        Dialect::Mysql => ident.value.clone(),
    }
}

/// Folds a name from a definition, which is always written unquoted.
fn fold_plain(dialect: Dialect, name: &str) -> String {
    fold_relation(dialect, &Ident::new(name))
}

fn compile_table(table: &str, dialect: Dialect) -> Result<AllowedTable, String> {
    let table = table.trim();
    validate_identifier(table).map_err(|why| format!("native table {why}"))?;
    Ok(match table.split_once('.') {
        Some((schema, name)) => {
            AllowedTable { schema: Some(fold_plain(dialect, schema)), name: fold_plain(dialect, name) }
        }
        None => AllowedTable { schema: None, name: fold_plain(dialect, table) },
    })
}

fn compile_function(function: &str) -> Result<String, String> {
    let function = function.trim();
    validate_identifier(function).map_err(|why| format!("native function {why}"))?;
    Ok(function.to_ascii_lowercase())
}
