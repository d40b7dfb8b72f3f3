//! The one place SQL text is assembled. Identifiers come from definitions (checked when the
//! version is saved) and are quoted; caller values only ever become bind placeholders.

use super::dialect::Dialect;
use super::value::Value;

/// SQL text plus the values bound to its placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedSql {
    pub sql: String,
    pub binds: Vec<Value>,
}

/// Builds one statement for one dialect.
#[derive(Debug, Clone)]
pub struct SqlBuilder {
    dialect: Dialect,
    sql: String,
    binds: Vec<Value>,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        SqlBuilder { dialect, sql: String::with_capacity(256), binds: Vec::new() }
    }

    /// Continues a rendered statement: new placeholders number after its binds.
    pub fn continue_from(dialect: Dialect, rendered: RenderedSql) -> Self {
        SqlBuilder { dialect, sql: rendered.sql, binds: rendered.binds }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends trusted SQL text: from a definition or from the renderer itself, never from a caller.
    pub fn push_sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    pub fn push_ident(&mut self, name: &str) -> &mut Self {
        self.dialect.push_quoted(&mut self.sql, name);
        self
    }

    /// Appends a placeholder and records its value. An array value expands to a list via
    /// [`SqlBuilder::push_list`]; scalars become one placeholder.
    pub fn push_bind(&mut self, value: Value) -> &mut Self {
        self.binds.push(value);
        self.dialect.push_placeholder(&mut self.sql, self.binds.len());
        self
    }

    /// Appends `p1, p2, …` for a list of values, one placeholder per item (no parentheses:
    /// callers write `IN (` … `)` around it).
    ///
    /// The list is padded up to the next power of two by repeating its last item, which
    /// changes no IN / NOT IN result but keeps the number of distinct statement texts (and so
    /// prepared statements) logarithmic in the list length.
    pub fn push_list(&mut self, items: Vec<Value>) -> &mut Self {
        let padded_len = items.len().max(1).next_power_of_two();
        let last = items.last().cloned().unwrap_or(Value::Null);
        for (count, item) in items.into_iter().chain(std::iter::repeat(last)).take(padded_len).enumerate() {
            if count > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(item);
        }
        self
    }

    /// The SQL written so far, for renderers that trim or inspect it (script `<where>`, `<trim>`).
    pub fn sql_mut(&mut self) -> &mut String {
        &mut self.sql
    }

    pub fn bind_count(&self) -> usize {
        self.binds.len()
    }

    pub fn finish(self) -> RenderedSql {
        RenderedSql { sql: self.sql, binds: self.binds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_pad_to_a_power_of_two_with_the_last_item() {
        let mut b = SqlBuilder::new(Dialect::Postgres);
        b.push_sql("x IN (").push_list(vec![Value::Int(1), Value::Int(2), Value::Int(3)]).push_sql(")");
        let r = b.finish();
        assert_eq!(r.sql, "x IN ($1, $2, $3, $4)");
        assert_eq!(r.binds, vec![Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(3)]);
    }

    #[test]
    fn binds_number_in_order_for_postgres() {
        let mut b = SqlBuilder::new(Dialect::Postgres);
        b.push_sql("SELECT ").push_ident("a").push_sql(" WHERE b = ").push_bind(Value::Int(1));
        b.push_sql(" AND c = ").push_bind(Value::Text("x".into()));
        assert_eq!(b.finish().sql, r#"SELECT "a" WHERE b = $1 AND c = $2"#);
    }
}
