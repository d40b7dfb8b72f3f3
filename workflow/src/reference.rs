//! References to outputs, as users write them in parameters, output mappings and conditions:
//! `$` / `$.x` (the previous node's output, or in an output mapping the node's own result),
//! `${NODE}` / `${NODE.x}` (an earlier node's output; `x` may be a JSONPath tail such as
//! `data[0].id`) and `${START.x}` (the request). Also the literal-or-reference reading of a
//! parameter value.

use std::borrow::Cow;

use serde_json::Value;

use crate::path::Path;

/// The slot of a reference that `compile` has not resolved yet.
pub(crate) const UNRESOLVED: usize = usize::MAX;

/// One reference to an output.
#[derive(Debug, Clone)]
pub struct Ref {
    /// `None` for `$…` (the previous output), else the node id (`START` for the request).
    pub node: Option<String>,
    /// The node's slot in a compiled workflow; set by `compile`.
    pub(crate) slot: usize,
    pub path: Path,
}

/// Where references find outputs while a workflow runs (and in tests).
pub trait Scope {
    /// What `$` means here.
    fn previous(&self) -> &Value;
    /// The output of the node `r` names, if it has run.
    fn output(&self, r: &Ref) -> Option<&Value>;
}

static NULL: Value = Value::Null;

impl Ref {
    /// Reads `text` as exactly one reference.
    pub fn parse(text: &str) -> Result<Ref, String> {
        let (r, end) = scan(text, 0)?;
        if end != text.len() {
            return Err(format!("unexpected `{}` after the reference", &text[end..]));
        }
        Ok(r)
    }

    /// The value the reference selects in `scope`; null when the node has not run or the path
    /// selects nothing.
    pub fn resolve<'a>(&self, scope: &'a dyn Scope) -> Cow<'a, Value> {
        let base = match &self.node {
            None => scope.previous(),
            Some(_) => scope.output(self).unwrap_or(&NULL),
        };
        self.path.select(base)
    }
}

/// A parameter or output-mapping value: a reference or a literal string.
#[derive(Debug, Clone)]
pub enum ParamValue {
    Literal(Value),
    Ref(Ref),
}

impl ParamValue {
    /// `$…` is a reference, `$$…` a literal starting with `$`, anything else a literal string.
    pub fn parse(text: &str) -> Result<ParamValue, String> {
        if let Some(rest) = text.strip_prefix("$$") {
            return Ok(ParamValue::Literal(Value::String(format!("${rest}"))));
        }
        if text.starts_with('$') {
            return Ref::parse(text).map(ParamValue::Ref);
        }
        Ok(ParamValue::Literal(Value::String(text.to_owned())))
    }

    pub fn resolve<'a>(&'a self, scope: &'a dyn Scope) -> Cow<'a, Value> {
        match self {
            ParamValue::Literal(value) => Cow::Borrowed(value),
            ParamValue::Ref(r) => r.resolve(scope),
        }
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Scans the reference starting at byte `start` (a `$`); returns it and the byte after it.
pub(crate) fn scan(text: &str, start: usize) -> Result<(Ref, usize), String> {
    let rest = text.get(start..).unwrap_or("");
    let Some(after) = rest.strip_prefix('$') else {
        return Err("a reference starts with `$`".to_owned());
    };
    let at = start + 1;
    if let Some(inner) = after.strip_prefix('{') {
        let id_len = inner.find(|c: char| !is_id_char(c)).unwrap_or(inner.len());
        let id = &inner[..id_len];
        if id.is_empty() {
            return Err("`${` must be followed by a node id".to_owned());
        }
        let tail_start = at + 1 + id_len;
        let (path, tail_end) = match inner[id_len..].chars().next() {
            Some('}') => (Path::root(), tail_start),
            Some('.') | Some('[') => {
                // `${N.x}` is the JSONPath `$.x` on N's output.
                let end = scan_tail(text, tail_start);
                (parse_path(&text[tail_start..end])?, end)
            }
            _ => return Err(format!("`${{{id}` must be followed by `}}`, `.` or `[`")),
        };
        if !text[tail_end..].starts_with('}') {
            return Err(format!("`${{{id}…` is not closed by `}}`"));
        }
        let r = Ref { node: Some(id.to_owned()), slot: UNRESOLVED, path };
        return Ok((r, tail_end + 1));
    }
    let end = scan_tail(text, at);
    Ok((Ref { node: None, slot: UNRESOLVED, path: parse_path(&text[at..end])? }, end))
}

fn parse_path(tail: &str) -> Result<Path, String> {
    // The seed writes `$.` for the whole output.
    if tail.is_empty() || tail == "." {
        return Ok(Path::root());
    }
    Path::parse(&format!("${tail}")).map_err(|e| format!("`${tail}` is not a JSONPath: {e}"))
}

/// The end of a JSONPath tail (`.a`, `..a`, `.*`, `[…]`, repeated) starting at byte `pos`.
fn scan_tail(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(pos) {
            Some(b'.') => {
                let mut p = pos + 1;
                if bytes.get(p) == Some(&b'.') {
                    p += 1;
                }
                match text[p..].chars().next() {
                    Some('*') => pos = p + 1,
                    Some('[') => pos = p,
                    Some(c) if is_name_char(c) => {
                        pos = p + text[p..].find(|c: char| !is_name_char(c)).unwrap_or(text.len() - p);
                    }
                    // A lone trailing `.` (`$.`) belongs to the reference.
                    _ => return p,
                }
            }
            Some(b'[') => match bracket_end(text, pos) {
                Some(end) => pos = end,
                None => return text.len(),
            },
            _ => return pos,
        }
    }
}

/// The byte after the `]` matching the `[` at `pos`, minding quotes and nesting.
fn bracket_end(text: &str, pos: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text[pos..].char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(pos + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_with_their_tails() {
        let r = Ref::parse("${api1.data[0].id}").expect("parses");
        assert_eq!(r.node.as_deref(), Some("api1"));
        assert_eq!(r.path.as_str(), "$.data[0].id");
        let r = Ref::parse("$.user_id").expect("parses");
        assert_eq!((r.node, r.path.as_str()), (None, "$.user_id"));
        assert_eq!(Ref::parse("$.").expect("parses").path.as_str(), "$");
        assert_eq!(Ref::parse("${START}").expect("parses").path.as_str(), "$");
        assert_eq!(Ref::parse("${N['a]b']}").expect("parses").path.as_str(), "$['a]b']");
        let (r, end) = scan("$.a.b != 1", 0).expect("scans");
        assert_eq!((r.path.as_str(), end), ("$.a.b", 5));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in ["${", "${}", "${a", "${a.b", "${a b}", "$.x y", "$[", "${a.[}"] {
            assert!(Ref::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn param_values_are_literals_unless_they_start_with_a_dollar() {
        assert!(matches!(ParamValue::parse("abc"), Ok(ParamValue::Literal(Value::String(s))) if s == "abc"));
        assert!(matches!(ParamValue::parse("$$5"), Ok(ParamValue::Literal(Value::String(s))) if s == "$5"));
        assert!(matches!(ParamValue::parse("${START.id}"), Ok(ParamValue::Ref(_))));
    }
}
