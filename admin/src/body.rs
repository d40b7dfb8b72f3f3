//! JSON bodies read field by field, so that every refusal names its field (`qps`,
//! `ipAllow[2]`), including a value of the wrong type, which a derived `Deserialize` could only
//! report as a problem of the whole body.

use serde_json::{Map, Value};

use super::reply::AdminError;

/// A JSON object body with only known keys.
#[derive(Debug, Default)]
pub struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    /// Reads an object; an empty body reads as `{}`. A key outside `known` is refused by name.
    pub fn parse(body: &[u8], known: &[&str]) -> Result<Fields, AdminError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| AdminError::invalid("body", format!("the request body is not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(AdminError::invalid("body", "send a JSON object"));
        };
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(AdminError::invalid(
                unknown,
                format!(
                    "unknown field `{unknown}`: expected {}",
                    known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(Fields { map })
    }

    /// Whether the key was sent, even as `null`.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The value of a key, `None` when absent or `null`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A string; absent or `null` is `None`.
    pub fn text(&self, name: &str) -> Result<Option<String>, AdminError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(AdminError::invalid(name, format!("`{name}` is a string"))),
        }
    }

    /// A whole number in `range`; absent or `null` is `None`. `what` says what the number is.
    pub fn integer(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Result<Option<i64>, AdminError> {
        let Some(value) = self.value(name) else { return Ok(None) };
        match value.as_i64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(AdminError::invalid(
                name,
                format!("`{name}` is {what}: a whole number from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// `true` or `false`; absent or `null` is `None`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, AdminError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(AdminError::invalid(name, format!("`{name}` is true or false"))),
        }
    }

    /// An array of strings; errors name the item at fault (`name[i]`). Absent or `null` is `None`.
    pub fn texts(&self, name: &str) -> Result<Option<Vec<String>>, AdminError> {
        let Some(value) = self.value(name) else { return Ok(None) };
        let Value::Array(items) = value else {
            return Err(AdminError::invalid(name, format!("`{name}` is an array of strings")));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(AdminError::invalid(&format!("{name}[{i}]"), "a string")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<impl std::fmt::Debug, AdminError>) -> String {
        result.unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn every_refusal_names_its_field() {
        assert!(Fields::parse(b"  ", &["a"]).unwrap().value("a").is_none());
        assert_eq!(field(Fields::parse(b"[1]", &["a"])), "body");
        assert_eq!(field(Fields::parse(b"{", &["a"])), "body");
        assert_eq!(field(Fields::parse(br#"{"a":1,"b":2}"#, &["a"])), "b");
        let f = Fields::parse(
            br#"{"n":"x","m":2.5,"t":1,"b":"yes","l":["a",3],"z":null,"k":7}"#,
            &["n", "m", "t", "b", "l", "z", "k"],
        )
        .unwrap();
        assert_eq!(field(f.integer("n", 0..=9, "a count")), "n");
        assert_eq!(field(f.integer("m", 0..=9, "a count")), "m");
        assert_eq!(field(f.integer("k", 0..=5, "a count")), "k");
        assert_eq!(f.integer("k", 0..=9, "a count").unwrap(), Some(7));
        assert_eq!(field(f.text("t")), "t");
        assert_eq!(field(f.flag("b")), "b");
        assert_eq!(field(f.texts("l")), "l[1]");
        assert_eq!(f.text("z").unwrap(), None);
        assert!(f.has("z") && !f.has("absent"));
    }
}
