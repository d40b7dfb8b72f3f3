//! Database errors sorted by cause: a statement the database refuses (bad SQL, a type
//! mismatch, a value out of range) or a database that failed (connection, resources,
//! privileges, internal errors).
//!
//! A refusal gets a [`Reason`] from the error's class — the SQLSTATE on PostgreSQL, the error
//! number on MySQL and MariaDB, the result code and fixed message on SQLite — and callers are
//! told that reason's fixed text, never the database's own message, which can name tables,
//! columns, schemas and server versions. The database's message goes to the log only, at most
//! once per [`LOG_INTERVAL`] per API ([`LogLimiter`]): a public API's callers can send bad
//! queries as fast as they like.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::value::Value;

/// Why the database refused a statement, in words that name nothing of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Syntax,
    OrderByPosition,
    GroupByPosition,
    DistinctOrderBy,
    ColumnReference,
    UndefinedColumn,
    UndefinedTable,
    AmbiguousColumn,
    DuplicateAlias,
    DuplicateColumn,
    UndefinedFunction,
    ArgumentCount,
    AmbiguousFunction,
    Grouping,
    HavingWithoutGrouping,
    AggregateMisuse,
    WindowMisuse,
    TypeMismatch,
    ColumnCount,
    DerivedTableAlias,
    SubqueryRows,
    Collation,
    Unsupported,
    TooComplex,
    ReadOnly,
    /// Any other refusal of the statement's SQL.
    Query,
    DivisionByZero,
    OutOfRange,
    InvalidText,
    InvalidDatetime,
    InvalidRegex,
    InvalidEscape,
    NegativeLimit,
    TooLong,
    InvalidArgument,
    /// Any other value the statement's operations refuse.
    Data,
}

impl Reason {
    /// The fixed text callers see.
    pub fn message(self) -> &'static str {
        match self {
            Reason::Syntax => "the query is not valid SQL for this database",
            Reason::OrderByPosition => "an ORDER BY position is not in the select list",
            Reason::GroupByPosition => "a GROUP BY position is not in the select list",
            Reason::DistinctOrderBy => "with SELECT DISTINCT, ORDER BY expressions must appear in the select list",
            Reason::ColumnReference => "a column reference is not valid where it is used",
            Reason::UndefinedColumn => "a column does not exist",
            Reason::UndefinedTable => "a table or alias is not defined in the query",
            Reason::AmbiguousColumn => "a column name is ambiguous; qualify it with its table",
            Reason::DuplicateAlias => "a table alias is used more than once",
            Reason::DuplicateColumn => "a subquery has two columns of the same name",
            Reason::UndefinedFunction => "a function or operator does not exist for these argument types",
            Reason::ArgumentCount => "a function is called with the wrong number of arguments",
            Reason::AmbiguousFunction => "a function or operator call is ambiguous; cast its arguments",
            Reason::Grouping => "a column must appear in GROUP BY or be used in an aggregate function",
            Reason::HavingWithoutGrouping => "HAVING is used without GROUP BY or an aggregate",
            Reason::AggregateMisuse => "an aggregate function is used where it is not allowed",
            Reason::WindowMisuse => "a window function is used where it is not allowed, or without OVER",
            Reason::TypeMismatch => "an expression has the wrong type for where it is used",
            Reason::ColumnCount => "the parts of the query have different numbers of columns",
            Reason::DerivedTableAlias => "a subquery in FROM needs an alias",
            Reason::SubqueryRows => "a subquery used as a value returned more than one row",
            Reason::Collation => "a collation does not exist or cannot be combined with another",
            Reason::Unsupported => "the query uses a feature this database does not support",
            Reason::TooComplex => "the query is too large or complex for this database",
            Reason::ReadOnly => "the query tries to write, and data APIs are read-only",
            Reason::Query => "the query cannot run on this database as written",
            Reason::DivisionByZero => "division by zero",
            Reason::OutOfRange => "a number is out of range for its type",
            Reason::InvalidText => "a value cannot be read as the type it is compared with or cast to",
            Reason::InvalidDatetime => "a date or time is not valid",
            Reason::InvalidRegex => "a regular expression is not valid",
            Reason::InvalidEscape => "a LIKE pattern or its ESCAPE character is not valid",
            Reason::NegativeLimit => "LIMIT or OFFSET is negative",
            Reason::TooLong => "a value is too long for its type",
            Reason::InvalidArgument => "a function argument is outside its allowed range",
            Reason::Data => "a value is not valid for the operation applied to it",
        }
    }

    /// Whether a value caused it rather than the SQL's shape: the only refusals a bound value
    /// can cause in a statement Sluice generated.
    pub fn is_data(self) -> bool {
        matches!(
            self,
            Reason::DivisionByZero
                | Reason::OutOfRange
                | Reason::InvalidText
                | Reason::InvalidDatetime
                | Reason::InvalidRegex
                | Reason::InvalidEscape
                | Reason::NegativeLimit
                | Reason::TooLong
                | Reason::InvalidArgument
                | Reason::Data
        )
    }

    /// Whether a refusal for this reason can have come from binding `value`: a division by
    /// zero from a zero, a bad pattern from text, an overflow from a number or text, and so
    /// on. Checked before a refusal is pinned on a caller's value, so that a template's own
    /// mistake (its `x / 0`) is not blamed on the one value a caller happened to send.
    pub fn could_come_from(self, value: &Value) -> bool {
        if let Value::Array(items) = value {
            return items.iter().any(|item| self.could_come_from(item));
        }
        let number = matches!(value, Value::Int(_) | Value::Float(_) | Value::Decimal(_));
        let text = matches!(value, Value::Text(_) | Value::Json(_));
        match self {
            Reason::DivisionByZero => match value {
                Value::Int(i) => *i == 0,
                Value::Float(f) => *f == 0.0,
                Value::Decimal(d) => d.is_zero(),
                _ => false,
            },
            Reason::NegativeLimit => match value {
                Value::Int(i) => *i < 0,
                Value::Float(f) => *f < 0.0,
                Value::Decimal(d) => d.is_sign_negative(),
                _ => false,
            },
            Reason::OutOfRange => number || text,
            Reason::InvalidText | Reason::InvalidRegex | Reason::InvalidEscape | Reason::TooLong => text,
            Reason::InvalidDatetime => text || matches!(value, Value::Date(_) | Value::DateTime(_)),
            Reason::InvalidArgument | Reason::Data => !value.is_null(),
            _ => false,
        }
    }
}

/// A statement's failure as its driver reported it: sqlx for PostgreSQL and MySQL, rusqlite
/// for SQLite. Its text is for the log only.
#[derive(Debug)]
pub enum StatementError {
    Sqlx(sqlx::Error),
    Sqlite(rusqlite::Error),
}

impl std::fmt::Display for StatementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatementError::Sqlx(e) => e.fmt(f),
            StatementError::Sqlite(e) => e.fmt(f),
        }
    }
}

impl StatementError {
    /// The database's code for the error (SQLSTATE, error number, SQLite's extended result
    /// code), when it has one.
    pub fn code(&self) -> Option<String> {
        match self {
            StatementError::Sqlx(e) => e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned()),
            StatementError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => Some(e.extended_code.to_string()),
            StatementError::Sqlite(_) => None,
        }
    }
}

/// Why the database refused the statement, or `None` when the database (or the way to it)
/// failed: connections, pools, resources, privileges, cancellations, internal errors.
pub fn classify(error: &StatementError) -> Option<Reason> {
    let db = match error {
        StatementError::Sqlx(sqlx::Error::Database(db)) => db,
        StatementError::Sqlx(_) => return None,
        StatementError::Sqlite(rusqlite::Error::SqliteFailure(e, message)) => {
            return sqlite(e.extended_code, message.as_deref().unwrap_or(""));
        }
        StatementError::Sqlite(_) => return None,
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return postgres(pg.code(), pg.message());
    }
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql(my.number(), my.code().unwrap_or(""), my.message());
    }
    None
}

/// PostgreSQL: by SQLSTATE (appendix A of its manual); the message only picks between fixed
/// reasons of one code.
fn postgres(code: &str, message: &str) -> Option<Reason> {
    let reason = match code {
        "42601"
            if ["same number of columns", "only one column", "too many columns", "too few columns"]
                .iter()
                .any(|m| message.contains(m)) =>
        {
            Reason::ColumnCount
        }
        "42601" if message.contains("must have an alias") => Reason::DerivedTableAlias,
        "42601" => Reason::Syntax,
        "42P10" if message.starts_with("ORDER BY position") => Reason::OrderByPosition,
        "42P10" if message.starts_with("GROUP BY position") => Reason::GroupByPosition,
        "42P10" if message.contains("DISTINCT") => Reason::DistinctOrderBy,
        "42P10" => Reason::ColumnReference,
        "42703" => Reason::UndefinedColumn,
        "42P01" => Reason::UndefinedTable,
        "42702" => Reason::AmbiguousColumn,
        "42712" => Reason::DuplicateAlias,
        "42701" => Reason::DuplicateColumn,
        "42883" => Reason::UndefinedFunction,
        "42725" => Reason::AmbiguousFunction,
        "42803" if message.contains("must appear in the GROUP BY") => Reason::Grouping,
        "42803" if message.contains("aggregate") => Reason::AggregateMisuse,
        "42803" => Reason::Grouping,
        "42P20" => Reason::WindowMisuse,
        "42809" if message.contains("window function") || message.contains("OVER") => Reason::WindowMisuse,
        "42804" | "42846" | "42P18" => Reason::TypeMismatch,
        "42P21" | "42P22" => Reason::Collation,
        "42704" if message.contains("collation") => Reason::Collation,
        // Privileges are the datasource's business, not the caller's.
        "42501" => return None,
        "21000" => Reason::SubqueryRows,
        "0A000" => Reason::Unsupported,
        "25006" => Reason::ReadOnly,
        "22012" => Reason::DivisionByZero,
        "22003" => Reason::OutOfRange,
        "22P02" => Reason::InvalidText,
        "22007" | "22008" | "22009" | "22015" => Reason::InvalidDatetime,
        "2201B" => Reason::InvalidRegex,
        "22019" | "22025" => Reason::InvalidEscape,
        "2201W" | "2201X" => Reason::NegativeLimit,
        "22001" => Reason::TooLong,
        "22011" | "22013" | "22014" | "22016" | "2201E" | "2201F" | "2201G" | "22023" | "2202H" => {
            Reason::InvalidArgument
        }
        _ if code.starts_with("54") => Reason::TooComplex,
        _ if code.starts_with("22") => Reason::Data,
        _ if code.starts_with("42") || code.starts_with("21") => Reason::Query,
        _ => return None,
    };
    Some(reason)
}

/// MySQL and MariaDB error numbers that are never the statement's fault although their
/// SQLSTATE is of class 42: privileges and unknown databases.
const MYSQL_NOT_THE_QUERY: &[u16] = &[1044, 1045, 1049, 1142, 1143, 1227, 1370, 1410, 1449, 1698];

/// MySQL and MariaDB: by error number, then by SQLSTATE class.
fn mysql(number: u16, sqlstate: &str, message: &str) -> Option<Reason> {
    let reason = match number {
        1064 | 1149 | 1221 => Reason::Syntax,
        1054 => {
            // "Unknown column '7' in 'ORDER BY'" (MariaDB) or "… in 'order clause'" (MySQL).
            let numeric =
                message.split('\'').nth(1).is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
            let clause = message.to_ascii_lowercase();
            match clause.rsplit(" in ").next() {
                Some(place) if numeric && place.contains("order") => Reason::OrderByPosition,
                Some(place) if numeric && place.contains("group") => Reason::GroupByPosition,
                _ => Reason::UndefinedColumn,
            }
        }
        1247 => Reason::UndefinedColumn,
        1051 | 1109 | 1146 => Reason::UndefinedTable,
        1052 => Reason::AmbiguousColumn,
        1066 => Reason::DuplicateAlias,
        1060 => Reason::DuplicateColumn,
        1305 | 1630 | 4078 => Reason::UndefinedFunction,
        1318 | 1582..=1584 => Reason::ArgumentCount,
        1055 | 1056 | 1140 | 1463 => Reason::Grouping,
        1111 => Reason::AggregateMisuse,
        // MariaDB's window specification and placement errors.
        4009..=4023 => Reason::WindowMisuse,
        1222 | 1241 => Reason::ColumnCount,
        1248 => Reason::DerivedTableAlias,
        1242 => Reason::SubqueryRows,
        1253 | 1267 | 1270 | 1271 | 1273 => Reason::Collation,
        1235 => Reason::Unsupported,
        1104 | 1116 | 4026 => Reason::TooComplex,
        1792 => Reason::ReadOnly,
        1365 => Reason::DivisionByZero,
        1264 | 1690 => Reason::OutOfRange,
        1292 | 1366 | 1367 => Reason::InvalidText,
        1411 => Reason::InvalidDatetime,
        1139 => Reason::InvalidRegex,
        1406 => Reason::TooLong,
        1210 | 4024 => Reason::InvalidArgument,
        n if MYSQL_NOT_THE_QUERY.contains(&n) => return None,
        _ if sqlstate.starts_with("22") => Reason::Data,
        _ if sqlstate.starts_with("42") || sqlstate.starts_with("21") => Reason::Query,
        _ if sqlstate.starts_with("0A") => Reason::Unsupported,
        _ => return None,
    };
    Some(reason)
}

/// SQLite: `SQLITE_ERROR` (1, and its extended codes) is a statement it cannot prepare or
/// run, told apart by its fixed messages; busy, locked, I/O, read-only, corrupt and the
/// rest are the database's.
fn sqlite(code: i32, message: &str) -> Option<Reason> {
    const SQLITE_ERROR: i32 = 1;
    const SQLITE_TOOBIG: i32 = 18;
    const SQLITE_MISMATCH: i32 = 20;
    let reason = match code & 0xff {
        SQLITE_ERROR => {
            let patterns: &[(&str, Reason)] = &[
                ("ORDER BY term out of range", Reason::OrderByPosition),
                ("GROUP BY term out of range", Reason::GroupByPosition),
                ("syntax error", Reason::Syntax),
                ("unrecognized token", Reason::Syntax),
                ("incomplete input", Reason::Syntax),
                ("no such column", Reason::UndefinedColumn),
                ("cannot join using column", Reason::UndefinedColumn),
                ("no such table", Reason::UndefinedTable),
                ("ambiguous column name", Reason::AmbiguousColumn),
                ("no such function", Reason::UndefinedFunction),
                ("wrong number of arguments", Reason::ArgumentCount),
                ("misuse of aggregate", Reason::AggregateMisuse),
                ("misuse of window function", Reason::WindowMisuse),
                ("frame specification", Reason::WindowMisuse),
                ("HAVING clause on a non-aggregate query", Reason::HavingWithoutGrouping),
                ("GROUP BY clause is required before HAVING", Reason::HavingWithoutGrouping),
                ("same number of result columns", Reason::ColumnCount),
                ("sub-select returns", Reason::ColumnCount),
                ("row value misused", Reason::ColumnCount),
                ("no such collation", Reason::Collation),
                ("integer overflow", Reason::OutOfRange),
                ("ESCAPE expression", Reason::InvalidEscape),
                ("LIKE or GLOB pattern too complex", Reason::TooComplex),
                ("argument", Reason::InvalidArgument),
                ("too large", Reason::TooComplex),
                ("too many", Reason::TooComplex),
                ("stack overflow", Reason::TooComplex),
            ];
            patterns.iter().find(|(pattern, _)| message.contains(pattern)).map_or(Reason::Query, |&(_, r)| r)
        }
        SQLITE_TOOBIG => Reason::TooComplex,
        SQLITE_MISMATCH => Reason::TypeMismatch,
        _ => return None,
    };
    Some(reason)
}

/// The shortest time between two log lines of one [`LogLimiter`].
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Lets one log line through per [`LOG_INTERVAL`] and counts the ones it suppressed.
#[derive(Debug, Default)]
pub struct LogLimiter {
    state: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// `Some(n)` when a line may be logged at `now`, `n` being how many were suppressed since
    /// the last one; `None` when this one is suppressed.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.last {
            Some(last) if now.saturating_duration_since(last) < LOG_INTERVAL => {
                state.suppressed += 1;
                None
            }
            _ => {
                state.last = Some(now);
                Some(std::mem::take(&mut state.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_codes_map_to_fixed_reasons() {
        let cases = [
            ("42P10", "ORDER BY position 7 is not in select list", Some(Reason::OrderByPosition)),
            ("42P10", "GROUP BY position 5 is not in select list", Some(Reason::GroupByPosition)),
            ("42601", "syntax error at or near \"RLIKE\"", Some(Reason::Syntax)),
            ("42601", "each UNION query must have the same number of columns", Some(Reason::ColumnCount)),
            ("42601", "subquery in FROM must have an alias", Some(Reason::DerivedTableAlias)),
            ("42883", "operator does not exist: text > integer", Some(Reason::UndefinedFunction)),
            (
                "42803",
                "column \"users.id\" must appear in the GROUP BY clause or be used in an aggregate function",
                Some(Reason::Grouping),
            ),
            ("42803", "aggregate function calls cannot be nested", Some(Reason::AggregateMisuse)),
            ("42809", "window function lag requires an OVER clause", Some(Reason::WindowMisuse)),
            ("22012", "division by zero", Some(Reason::DivisionByZero)),
            ("22P02", "invalid input syntax for type integer: \"abc\"", Some(Reason::InvalidText)),
            ("22ZZZ", "something new", Some(Reason::Data)),
            ("42ZZZ", "something new", Some(Reason::Query)),
            ("42501", "permission denied for table users", None),
            ("08006", "connection failure", None),
            ("53300", "too many connections", None),
            ("57014", "canceling statement due to user request", None),
            ("XX000", "internal error", None),
        ];
        for (code, message, want) in cases {
            assert_eq!(postgres(code, message), want, "{code} {message}");
        }
    }

    #[test]
    fn mysql_numbers_map_to_fixed_reasons() {
        let cases = [
            (1054, "42S22", "Unknown column '7' in 'ORDER BY'", Some(Reason::OrderByPosition)),
            (1054, "42S22", "Unknown column '7' in 'order clause'", Some(Reason::OrderByPosition)),
            (1054, "42S22", "Unknown column '5' in 'group statement'", Some(Reason::GroupByPosition)),
            (1054, "42S22", "Unknown column 'nosuchcol' in 'SELECT'", Some(Reason::UndefinedColumn)),
            (1054, "42S22", "Unknown column 'x7' in 'ORDER BY'", Some(Reason::UndefinedColumn)),
            (1064, "42000", "You have an error in your SQL syntax", Some(Reason::Syntax)),
            (1305, "42000", "FUNCTION db.f does not exist", Some(Reason::UndefinedFunction)),
            (1111, "HY000", "Invalid use of group function", Some(Reason::AggregateMisuse)),
            (1690, "22003", "BIGINT value is out of range", Some(Reason::OutOfRange)),
            (1142, "42000", "SELECT command denied to user", None),
            (1044, "42000", "Access denied for user", None),
            (2013, "HY000", "Lost connection to server during query", None),
            (1205, "HY000", "Lock wait timeout exceeded", None),
            (9999, "22999", "something new", Some(Reason::Data)),
        ];
        for (number, sqlstate, message, want) in cases {
            assert_eq!(mysql(number, sqlstate, message), want, "{number} {message}");
        }
    }

    #[test]
    fn sqlite_errors_map_by_code_and_message() {
        assert_eq!(
            sqlite(1, "1st ORDER BY term out of range - should be between 1 and 1"),
            Some(Reason::OrderByPosition)
        );
        assert_eq!(sqlite(1, "near \"RLIKE\": syntax error"), Some(Reason::Syntax));
        assert_eq!(sqlite(1, "no such function: REGEXP"), Some(Reason::UndefinedFunction));
        assert_eq!(sqlite(1, "HAVING clause on a non-aggregate query"), Some(Reason::HavingWithoutGrouping));
        assert_eq!(sqlite(1, "something new"), Some(Reason::Query));
        assert_eq!(sqlite(257, "no such collation sequence: nope"), Some(Reason::Collation));
        for code in [5, 6, 7, 8, 10, 11, 14, 26] {
            assert_eq!(sqlite(code, "anything"), None, "code {code}");
        }
    }

    #[test]
    fn sqlite_driver_errors_are_classified_by_their_code_and_message() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let syntax = StatementError::Sqlite(conn.prepare("SELEC 1").unwrap_err());
        assert_eq!(classify(&syntax), Some(Reason::Syntax));
        assert_eq!(syntax.code().as_deref(), Some("1"));
        let column = StatementError::Sqlite(conn.prepare("SELECT nope").unwrap_err());
        assert_eq!(classify(&column), Some(Reason::UndefinedColumn));
        assert_eq!(classify(&StatementError::Sqlite(rusqlite::Error::InvalidQuery)), None);
    }

    #[test]
    fn other_failures_are_not_refusals() {
        assert_eq!(classify(&StatementError::Sqlx(sqlx::Error::PoolTimedOut)), None);
        assert_eq!(
            classify(&StatementError::Sqlx(sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()))),
            None
        );
    }

    #[test]
    fn reasons_name_nothing_of_the_database() {
        for code in ["42601", "42P10", "42703", "22012", "22P02", "42ZZZ", "22ZZZ"] {
            let message = postgres(code, "").map(Reason::message).unwrap_or_default();
            assert!(!message.is_empty() && !message.contains('"') && !message.contains('\''), "{code}: {message}");
        }
    }

    #[test]
    fn a_refusal_is_pinned_only_on_a_value_that_can_cause_it() {
        use rust_decimal::Decimal;
        assert!(Reason::DivisionByZero.could_come_from(&Value::Int(0)));
        assert!(Reason::DivisionByZero.could_come_from(&Value::Decimal(Decimal::new(0, 2))));
        assert!(Reason::DivisionByZero.could_come_from(&Value::Array(vec![Value::Int(3), Value::Int(0)])));
        assert!(!Reason::DivisionByZero.could_come_from(&Value::Int(7)));
        assert!(!Reason::DivisionByZero.could_come_from(&Value::Text("Beijing".into())));
        assert!(Reason::NegativeLimit.could_come_from(&Value::Int(-1)));
        assert!(!Reason::NegativeLimit.could_come_from(&Value::Int(1)));
        assert!(Reason::InvalidEscape.could_come_from(&Value::Text("a\\".into())));
        assert!(!Reason::InvalidEscape.could_come_from(&Value::Int(1)));
        assert!(!Reason::OutOfRange.could_come_from(&Value::Date(chrono::NaiveDate::MIN)));
        assert!(!Reason::Data.could_come_from(&Value::TypedNull(catalog::model::ScalarType::Int)));
        assert!(!Reason::Syntax.could_come_from(&Value::Text("x".into())));
    }

    #[test]
    fn the_limiter_lets_one_line_through_per_interval_and_counts_the_rest() {
        let limiter = LogLimiter::default();
        let start = Instant::now();
        assert_eq!(limiter.admit(start), Some(0));
        for i in 1..=9 {
            assert_eq!(limiter.admit(start + Duration::from_millis(i * 100)), None);
        }
        assert_eq!(limiter.admit(start + LOG_INTERVAL), Some(9));
        assert_eq!(limiter.admit(start + LOG_INTERVAL + Duration::from_secs(1)), None);
        assert_eq!(limiter.admit(start + LOG_INTERVAL * 3), Some(1));
    }
}
