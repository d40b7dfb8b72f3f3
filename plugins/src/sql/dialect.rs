//! The per-database spelling of SQL: identifier quoting and bind placeholders.

use catalog::model::DatasourceKind;

/// The SQL dialect a statement is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl From<DatasourceKind> for Dialect {
    fn from(kind: DatasourceKind) -> Self {
        match kind {
            DatasourceKind::Sqlite => Dialect::Sqlite,
            DatasourceKind::Postgres => Dialect::Postgres,
            DatasourceKind::Mysql => Dialect::Mysql,
        }
    }
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql];

    /// Appends the placeholder for the `index`-th bind value (1-based).
    pub fn push_placeholder(self, out: &mut String, index: usize) {
        match self {
            Dialect::Postgres => {
                use std::fmt::Write;
                let _ = write!(out, "${index}");
            }
            Dialect::Sqlite | Dialect::Mysql => out.push('?'),
        }
    }

    /// Appends a quoted identifier. A dotted name (`schema.table`) quotes each part.
    ///
    /// Identifiers only ever come from API definitions, which `validate_identifier` checked
    /// at save time; quoting doubles the quote character anyway so that no name can end it.
    pub fn push_quoted(self, out: &mut String, name: &str) {
        let quote = match self {
            Dialect::Mysql => '`',
            Dialect::Sqlite | Dialect::Postgres => '"',
        };
        for (i, part) in name.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push(quote);
            for c in part.chars() {
                if c == quote {
                    out.push(quote);
                }
                out.push(c);
            }
            out.push(quote);
        }
    }

    pub fn quoted(self, name: &str) -> String {
        let mut out = String::with_capacity(name.len() + 2);
        self.push_quoted(&mut out, name);
        out
    }
}

/// A table or column name as API definitions may write it: letters, digits, `_` and `$`,
/// not starting with a digit, optionally one `schema.` prefix.
pub fn validate_identifier(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(format!("`{name}` has too many dots: use `table` or `schema.table`"));
    }
    for part in parts {
        let mut chars = part.chars();
        let ok_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !ok_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') || part.len() > 63 {
            return Err(format!(
                "`{name}` is not a valid identifier: use letters, digits and underscores, starting with a letter"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_embedded_quotes_and_splits_schema() {
        assert_eq!(Dialect::Postgres.quoted("public.users"), r#""public"."users""#);
        assert_eq!(Dialect::Mysql.quoted("a`b"), "`a``b`");
        assert_eq!(Dialect::Sqlite.quoted(r#"a"b"#), r#""a""b""#);
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut s = String::new();
        Dialect::Postgres.push_placeholder(&mut s, 12);
        Dialect::Mysql.push_placeholder(&mut s, 3);
        assert_eq!(s, "$12?");
    }

    #[test]
    fn identifiers_must_be_plain_names() {
        assert!(validate_identifier("orders").is_ok());
        assert!(validate_identifier("public.orders").is_ok());
        for bad in ["", "1x", "a b", "a;b", "a.b.c", "x\"y", "users--"] {
            assert!(validate_identifier(bad).is_err(), "{bad} accepted");
        }
    }
}
