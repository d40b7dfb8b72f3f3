//! The row cap: the top-level query returns at most `row_cap` rows, whatever the caller wrote.
//!
//! Only literal limits are kept, so the cap can be checked here rather than trusted to an
//! expression the database evaluates later.

use sqlparser::ast::{Expr, LimitClause, Query, Value};

use super::walk::Refusal;
use crate::error::ApiError;

/// Adds `LIMIT row_cap`, lowers a larger literal limit to it, or refuses a limit that is not a
/// plain number.
pub(super) fn apply_row_cap(query: &mut Query, row_cap: u32) -> Result<(), Refusal> {
    if query.fetch.is_some() {
        if query.limit_clause.as_ref().is_some_and(has_limit) {
            return Err(invalid("use either LIMIT or FETCH FIRST, not both"));
        }
        return cap_fetch(query, row_cap);
    }
    match &mut query.limit_clause {
        None => {
            query.limit_clause =
                Some(LimitClause::LimitOffset { limit: Some(number(row_cap)), offset: None, limit_by: Vec::new() });
            Ok(())
        }
        // `OFFSET n` alone, or PostgreSQL's `LIMIT ALL`, which parses as no limit.
        Some(LimitClause::LimitOffset { limit: limit @ None, .. }) => {
            *limit = Some(number(row_cap));
            Ok(())
        }
        Some(LimitClause::LimitOffset { limit: Some(limit), .. })
        | Some(LimitClause::OffsetCommaLimit { limit, .. }) => cap_expr(limit, row_cap),
    }
}

/// `FETCH FIRST n ROWS ONLY` is capped like LIMIT; `PERCENT` and `WITH TIES` can return more
/// rows than a number says, so they are refused.
fn cap_fetch(query: &mut Query, row_cap: u32) -> Result<(), Refusal> {
    let Some(fetch) = &mut query.fetch else {
        return Ok(());
    };
    if fetch.percent || fetch.with_ties {
        return Err(invalid("FETCH … PERCENT and WITH TIES are not supported: use LIMIT with a number"));
    }
    match &mut fetch.quantity {
        Some(quantity) => cap_expr(quantity, row_cap),
        // `FETCH FIRST ROW ONLY` means one row.
        None => {
            if row_cap < 1 {
                fetch.quantity = Some(number(row_cap));
            }
            Ok(())
        }
    }
}

fn cap_expr(limit: &mut Expr, row_cap: u32) -> Result<(), Refusal> {
    match literal_count(limit) {
        Some(n) if n <= u64::from(row_cap) => Ok(()),
        Some(_) => {
            *limit = number(row_cap);
            Ok(())
        }
        None => Err(invalid(format!(
            "LIMIT must be a plain number (at most {row_cap}), not `{}`",
            crate::error::cut_short(&limit.to_string())
        ))),
    }
}

/// A non-negative integer literal, or `None` for anything else (expressions, `-1`, `1e3`).
fn literal_count(expr: &Expr) -> Option<u64> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(digits, false) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                // Too many digits for u64 is still a number, just one above any cap.
                Some(digits.parse().unwrap_or(u64::MAX))
            }
            _ => None,
        },
        _ => None,
    }
}

fn has_limit(clause: &LimitClause) -> bool {
    match clause {
        LimitClause::LimitOffset { limit, .. } => limit.is_some(),
        LimitClause::OffsetCommaLimit { .. } => true,
    }
}

fn number(n: u32) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

fn invalid(why: impl std::fmt::Display) -> Refusal {
    Box::new(ApiError::invalid_parameter_because("sql", why))
}
