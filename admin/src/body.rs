//! Reading JSON bodies so that every refusal is the management envelope with status 400 and
//! names its field:
//!
//! - [`JsonBody`], the extractor for bodies with a derived `Deserialize` (in place of axum's
//!   `Json`, which answers a missing field or a wrong type with a plain-text 422), and
//!   [`parse`], what it calls: the field comes from where the deserializer was
//!   (`serde_path_to_error`), never from parsing serde's message text, except for the name
//!   of a missing field, which serde gives only there.
//! - [`Fields`], bodies read field by field (`qps`, `ipAllow[2]`), for checks a derive cannot
//!   express; each such route describes the keys it accepts with a schema type of its own.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use super::reply::AdminError;

/// A JSON body read with [`parse`]: refusals are 400 `InvalidParameter.<field>` in the
/// envelope. An empty body reads as `{}`; the content type is not checked, as for
/// [`Fields`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| AdminError::invalid("body", format!("the request body could not be read: {e}")))?;
        parse(&bytes, "").map(JsonBody)
    }
}

/// Reads a JSON body; an empty body reads as `{}`. Errors name the field at fault where the
/// deserializer was (`tags`, `requestParams[0].type`), under `prefix` (`draft.` for a
/// definition); `body` (or the prefix) when the text is not a JSON object.
pub fn parse<T: DeserializeOwned>(body: &[u8], prefix: &str) -> Result<T, AdminError> {
    let text = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { body };
    // serde reads a struct from an array too, by position; a body is an object.
    if text.trim_ascii_start().first() != Some(&b'{') {
        let field = if prefix.is_empty() { "body" } else { prefix.trim_end_matches('.') };
        return Err(AdminError::invalid(field, "send a JSON object"));
    }
    let mut reader = serde_json::Deserializer::from_slice(text);
    let (path, error) = match serde_path_to_error::deserialize(&mut reader) {
        Ok(value) => match reader.end() {
            Ok(()) => return Ok(value),
            Err(trailing) => (None, trailing),
        },
        Err(e) => {
            let path = e.path().iter().any(|s| !matches!(s, Segment::Unknown)).then(|| e.path().to_string());
            (path, e.into_inner())
        }
    };
    let message = error.to_string();
    // serde names a missing field only in its message (`missing field `name``); the path is
    // the object that lacks it.
    let missing = (error.classify() == Category::Data)
        .then(|| message.strip_prefix("missing field `")?.split_once('`'))
        .flatten()
        .map(|(name, _)| name);
    let field = match (path, missing) {
        (Some(path), Some(name)) => format!("{prefix}{path}.{name}"),
        (None, Some(name)) => format!("{prefix}{name}"),
        (Some(path), None) => format!("{prefix}{path}"),
        (None, None) if prefix.is_empty() => "body".to_owned(),
        (None, None) => prefix.trim_end_matches('.').to_owned(),
    };
    Err(AdminError::invalid(&field, format!("the request body is not as expected: {message}")))
}

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

    /// Reads an object with the keys `T` describes: the schema a route documents is the list
    /// of keys it accepts, so the two cannot drift apart.
    pub fn parse_as<T: utoipa::ToSchema>(body: &[u8]) -> Result<Fields, AdminError> {
        let keys = schema_keys::<T>();
        Fields::parse(body, &keys.iter().map(String::as_str).collect::<Vec<_>>())
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

/// The property names of `T`'s schema (an object schema; none for any other).
pub fn schema_keys<T: utoipa::ToSchema>() -> Vec<String> {
    use utoipa::openapi::{RefOr, Schema};
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
        _ => Vec::new(),
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
