//! JSONPath selections, parsed once when a workflow is compiled. Paths made only of names and
//! indexes (`$.data[0].id`, the common case) are walked directly and yield one value or null;
//! any other path (wildcards, slices, filters, `..`) runs through jsonpath-rust and yields the
//! array of its matches.

use std::borrow::Cow;

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A parsed JSONPath (`$`, `$.a.b`, `$.data[0].id`, `$..id`).
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
    kind: PathKind,
}

#[derive(Debug, Clone)]
enum PathKind {
    Singular(Vec<Step>),
    General(Box<JpQuery>),
}

#[derive(Debug, Clone)]
enum Step {
    Name(String),
    Index(i64),
}

impl Path {
    /// The whole value: `$`.
    pub fn root() -> Path {
        Path { text: "$".to_owned(), kind: PathKind::Singular(Vec::new()) }
    }

    /// Parses a JSONPath starting with `$`; the error is jsonpath-rust's message.
    pub fn parse(text: &str) -> Result<Path, String> {
        if text == "$" {
            return Ok(Path::root());
        }
        let query = parse_json_path(text).map_err(|e| e.to_string())?;
        let steps: Option<Vec<Step>> = query
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Selector(Selector::Name(name)) => Some(Step::Name(name.clone())),
                Segment::Selector(Selector::Index(index)) => Some(Step::Index(*index)),
                _ => None,
            })
            .collect();
        let kind = match steps {
            Some(steps) => PathKind::Singular(steps),
            None => PathKind::General(Box::new(query)),
        };
        Ok(Path { text: text.to_owned(), kind })
    }

    /// The first name of a path made of names and indexes: `a` in `$.a[0].b`.
    pub fn first_name(&self) -> Option<&str> {
        match &self.kind {
            PathKind::Singular(steps) => match steps.first() {
                Some(Step::Name(name)) => Some(name),
                _ => None,
            },
            PathKind::General(_) => None,
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the path selects in `value`: the one value (null when absent) for a singular path,
    /// the array of matches for any other.
    pub fn select<'a>(&self, value: &'a Value) -> Cow<'a, Value> {
        match &self.kind {
            PathKind::Singular(steps) => {
                let mut at = value;
                for step in steps {
                    let next = match (step, at) {
                        (Step::Name(name), Value::Object(map)) => map.get(name),
                        (Step::Index(index), Value::Array(items)) => {
                            // RFC 9535: a negative index counts from the end.
                            let i = if *index < 0 { items.len() as i64 + index } else { *index };
                            usize::try_from(i).ok().and_then(|i| items.get(i))
                        }
                        _ => None,
                    };
                    match next {
                        Some(next) => at = next,
                        None => return Cow::Owned(Value::Null),
                    }
                }
                Cow::Borrowed(at)
            }
            PathKind::General(query) => match js_path_process(query, value) {
                Ok(found) => Cow::Owned(Value::Array(found.into_iter().map(|r| r.val.clone()).collect())),
                Err(_) => Cow::Owned(Value::Null),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn singular_paths_walk_names_and_indexes() {
        let v = json!({"data": [{"id": 7}, {"id": 8}], "a": {"b": null}});
        assert_eq!(*Path::parse("$.data[0].id").expect("parses").select(&v), json!(7));
        assert_eq!(*Path::parse("$.data[-1].id").expect("parses").select(&v), json!(8));
        assert_eq!(*Path::parse("$['data'][1]").expect("parses").select(&v), json!({"id": 8}));
        assert_eq!(*Path::parse("$.data[5].id").expect("parses").select(&v), Value::Null);
        assert_eq!(*Path::parse("$.a.b.c").expect("parses").select(&v), Value::Null);
        assert_eq!(*Path::parse("$").expect("parses").select(&v), v);
    }

    #[test]
    fn other_paths_give_every_match() {
        let v = json!({"data": [{"id": 7}, {"id": 8}]});
        assert_eq!(*Path::parse("$.data[*].id").expect("parses").select(&v), json!([7, 8]));
        assert_eq!(*Path::parse("$..id").expect("parses").select(&v), json!([7, 8]));
        assert_eq!(*Path::parse("$.data[?@.id > 7].id").expect("parses").select(&v), json!([8]));
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(Path::parse("$.data[").is_err());
        assert!(Path::parse("data").is_err());
    }
}
