//! Typed parameter values, and their coercion from what callers send: query-string text or
//! JSON body values. This is the *parse* stage of the pipeline; it needs no database.

use std::collections::HashMap;
use std::str::FromStr;

use catalog::model::{ParamType, RequestParam, ScalarType};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

use crate::error::{ApiError, DefinitionError, DefinitionField};

/// Longest list an array parameter may carry.
pub const MAX_ARRAY_ITEMS: usize = 1000;

/// A value as the caller sent it, before coercion.
#[derive(Debug, Clone, PartialEq)]
pub enum RawParam {
    /// From the query string, a path segment or a header.
    Text(String),
    /// From a JSON body.
    Json(serde_json::Value),
}

/// A value coerced to its declared type, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A NULL of a declared type: what a script binds for a parameter left out, so that
    /// PostgreSQL types the placeholder as the parameter (an untyped NULL is sent as text,
    /// which it refuses to compare with a number or a date).
    TypedNull(ScalarType),
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(Decimal),
    Text(String),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Json(serde_json::Value),
    Array(Vec<Value>),
}

impl Value {
    /// The value as JSON, for dry runs and test-console answers.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null | Value::TypedNull(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Decimal(d) => J::String(d.to_string()),
            Value::Text(s) => J::String(s.clone()),
            Value::Date(d) => J::String(d.format("%Y-%m-%d").to_string()),
            Value::DateTime(t) => J::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            Value::Json(v) => v.clone(),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
        }
    }

    /// Truthiness for script `test` expressions: null and false are false, everything else true.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null | Value::TypedNull(_))
    }
}

/// Coerces one raw value to a parameter's declared type.
pub fn coerce(param: &RequestParam, raw: &RawParam) -> Result<Value, ApiError> {
    match param.param_type {
        ParamType::Scalar(scalar) => coerce_scalar(&param.name, scalar, raw),
        ParamType::Array(item) => coerce_array(&param.name, item, raw),
        ParamType::Identifier => {
            let text = match raw {
                RawParam::Text(t) => t.as_str(),
                RawParam::Json(serde_json::Value::String(t)) => t.as_str(),
                RawParam::Json(other) => {
                    return Err(ApiError::invalid_parameter(
                        &param.name,
                        "one of the allowed names",
                        &other.to_string(),
                    ));
                }
            };
            if param.allowed_values.iter().any(|allowed| allowed == text) {
                Ok(Value::Text(text.to_owned()))
            } else {
                Err(ApiError::invalid_parameter(
                    &param.name,
                    &format!("one of {}", param.allowed_values.join(", ")),
                    text,
                ))
            }
        }
    }
}

fn coerce_array(name: &str, item: ScalarType, raw: &RawParam) -> Result<Value, ApiError> {
    let expected = || format!("a JSON array or a comma-separated list of {}", item.as_str());
    let items: Vec<Value> = match raw {
        RawParam::Json(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| coerce_list_item(name, item, i + 1, &RawParam::Json(v.clone()), &expected()))
            .collect::<Result<_, _>>()?,
        RawParam::Json(serde_json::Value::String(text)) | RawParam::Text(text) => {
            if text.trim_start().starts_with('[') {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(json @ serde_json::Value::Array(_)) => {
                        return coerce_array(name, item, &RawParam::Json(json));
                    }
                    _ => return Err(ApiError::invalid_parameter(name, &expected(), text)),
                }
            }
            // The seed's compatible form: split on commas, keep spaces as part of items.
            text.split(',')
                .enumerate()
                .map(|(i, part)| coerce_list_item(name, item, i + 1, &RawParam::Text(part.to_owned()), &expected()))
                .collect::<Result<_, _>>()?
        }
        RawParam::Json(other) => {
            return Err(ApiError::invalid_parameter(name, &expected(), &other.to_string()));
        }
    };
    if items.is_empty() {
        return Err(ApiError::invalid_parameter_because(name, "the list is empty; send at least one item"));
    }
    if items.len() > MAX_ARRAY_ITEMS {
        return Err(ApiError::invalid_parameter_because(
            name,
            format!("the list has {} items; at most {MAX_ARRAY_ITEMS} are accepted", items.len()),
        ));
    }
    Ok(Value::Array(items))
}

/// One list item, at `position` (from 1). A JSON `null`, or the text `null` in a list of
/// anything but strings (where it is the word itself), is refused: every item is a value of
/// the declared type, so no NULL ever reaches an IN list.
fn coerce_list_item(
    name: &str,
    item: ScalarType,
    position: usize,
    raw: &RawParam,
    expected: &str,
) -> Result<Value, ApiError> {
    let is_null = match raw {
        RawParam::Json(serde_json::Value::Null) => true,
        RawParam::Text(text) => item != ScalarType::String && text.trim().eq_ignore_ascii_case("null"),
        RawParam::Json(_) => false,
    };
    if is_null {
        return Err(ApiError::null_list_item(name, position, item.as_str()));
    }
    coerce_scalar(name, item, raw).map_err(|_| {
        let received = match raw {
            RawParam::Text(t) => t.clone(),
            RawParam::Json(v) => v.to_string(),
        };
        ApiError::invalid_parameter(name, expected, &received)
    })
}

/// Coerces to a scalar type. JSON strings are read like query-string text, so `"42"` is an int.
pub fn coerce_scalar(name: &str, scalar: ScalarType, raw: &RawParam) -> Result<Value, ApiError> {
    use serde_json::Value as J;
    let invalid = |received: &str| ApiError::invalid_parameter(name, expected_of(scalar), received);
    if let RawParam::Text(t) | RawParam::Json(J::String(t)) = raw
        && t.contains('\0')
    {
        // PostgreSQL text cannot hold NUL, and elsewhere it truncates C strings: refuse everywhere.
        return Err(ApiError::invalid_parameter_because(name, "the value contains a NUL character; remove it"));
    }
    match raw {
        RawParam::Json(J::Null) => Ok(Value::Null),
        RawParam::Json(J::String(text)) if scalar != ScalarType::Json => {
            coerce_text(scalar, text).ok_or_else(|| invalid(text))
        }
        RawParam::Text(text) => coerce_text(scalar, text).ok_or_else(|| invalid(text)),
        RawParam::Json(json) => {
            let value = match (scalar, json) {
                (ScalarType::Json, v) => Some(Value::Json(v.clone())),
                (ScalarType::Bool, J::Bool(b)) => Some(Value::Bool(*b)),
                (ScalarType::Int, J::Number(n)) => n.as_i64().map(Value::Int),
                (ScalarType::Float, J::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(Value::Float),
                (ScalarType::Decimal, J::Number(n)) => Decimal::from_str(&n.to_string())
                    .or_else(|_| Decimal::from_scientific(&n.to_string()))
                    .ok()
                    .map(Value::Decimal),
                (ScalarType::String, J::Number(n)) => Some(Value::Text(n.to_string())),
                (ScalarType::String, J::Bool(b)) => Some(Value::Text(b.to_string())),
                _ => None,
            };
            value.ok_or_else(|| invalid(&json.to_string()))
        }
    }
}

fn expected_of(scalar: ScalarType) -> &'static str {
    match scalar {
        ScalarType::String => "a string",
        ScalarType::Int => "a 64-bit integer",
        ScalarType::Float => "a finite number",
        ScalarType::Decimal => "a decimal number such as 12.50",
        ScalarType::Bool => "true or false",
        ScalarType::Date => "a date as YYYY-MM-DD",
        ScalarType::DateTime => "a date and time as YYYY-MM-DDTHH:MM:SS",
        ScalarType::Json => "a JSON value",
    }
}

fn coerce_text(scalar: ScalarType, text: &str) -> Option<Value> {
    Some(match scalar {
        ScalarType::String => Value::Text(text.to_owned()),
        ScalarType::Int => Value::Int(text.trim().parse().ok()?),
        ScalarType::Float => Value::Float(text.trim().parse::<f64>().ok().filter(|f| f.is_finite())?),
        ScalarType::Decimal => {
            let t = text.trim();
            Value::Decimal(Decimal::from_str(t).or_else(|_| Decimal::from_scientific(t)).ok()?)
        }
        ScalarType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return None,
        },
        ScalarType::Date => Value::Date(NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?),
        ScalarType::DateTime => Value::DateTime(parse_datetime(text.trim())?),
        ScalarType::Json => Value::Json(serde_json::from_str(text).ok()?),
    })
}

/// ISO 8601 with `T` or a space; an offset is converted to UTC.
fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Some(with_offset.naive_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// Checks at compile that `param`'s default, if any, reads as its declared type, as a call
/// would send it: `InvalidDefinition` on `<list>[<index>].default` otherwise. A call leaving
/// the parameter out then always gets a value.
pub fn check_default(list: &'static str, index: usize, param: &RequestParam) -> Result<(), DefinitionError> {
    let Some(default) = &param.default else { return Ok(()) };
    coerce(param, &RawParam::Text(default.clone())).map(|_| ()).map_err(|e| DefinitionError {
        field: DefinitionField::ItemKey { list, index, name: param.name.clone(), key: "default" },
        message: format!("default `{default}` of parameter `{}`: {}", param.name, e.message),
    })
}

/// Request parameters coerced against a definition, in declaration order: `None` where an
/// optional parameter was absent and had no default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamValues {
    pub values: Vec<Option<Value>>,
}

impl ParamValues {
    /// Reads every declared parameter from `raw`, applying defaults and the required check.
    pub fn parse(params: &[RequestParam], raw: &HashMap<String, RawParam>) -> Result<ParamValues, ApiError> {
        let mut values = Vec::with_capacity(params.len());
        for param in params {
            let value = match raw.get(&param.name) {
                Some(RawParam::Json(serde_json::Value::Null)) | None => match &param.default {
                    Some(default) => Some(coerce(param, &RawParam::Text(default.clone()))?),
                    None if param.required => return Err(ApiError::missing_parameter(&param.name)),
                    None => None,
                },
                Some(RawParam::Text(t)) if t.is_empty() && !param.required && param.default.is_none() => None,
                Some(raw) => Some(coerce(param, raw)?),
            };
            values.push(value);
        }
        Ok(ParamValues { values })
    }

    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn param(name: &str, ty: &str) -> RequestParam {
        RequestParam::new(name, ty.parse().unwrap())
    }

    fn text(s: &str) -> RawParam {
        RawParam::Text(s.into())
    }

    #[test]
    fn scalars_coerce_from_query_text() {
        assert_eq!(coerce(&param("a", "int"), &text(" 42 ")).unwrap(), Value::Int(42));
        assert_eq!(coerce(&param("a", "bool"), &text("TRUE")).unwrap(), Value::Bool(true));
        assert_eq!(coerce(&param("a", "decimal"), &text("12.50")).unwrap(), Value::Decimal(Decimal::new(1250, 2)));
        assert_eq!(
            coerce(&param("a", "datetime"), &text("2024-01-02T03:04:05+01:00")).unwrap(),
            Value::DateTime(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap().and_hms_opt(2, 4, 5).unwrap())
        );
    }

    #[test]
    fn bad_scalars_name_the_parameter_and_the_expected_type() {
        let err = coerce(&param("age", "int"), &text("1 OR 1=1")).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter.age");
        assert!(err.message.contains("64-bit integer") && err.message.contains("1 OR 1=1"), "{}", err.message);
        assert!(coerce(&param("f", "float"), &text("NaN")).is_err());
        assert!(coerce(&param("d", "date"), &text("2024-13-01")).is_err());
        assert_eq!(coerce(&param("s", "string"), &text("a\0b")).unwrap_err().code(), "InvalidParameter.s");
    }

    #[test]
    fn arrays_accept_json_or_commas_keeping_spaces() {
        let p = param("ids", "array<int>");
        assert_eq!(
            coerce(&p, &text("1,2,3")).unwrap(),
            Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)])
        );
        assert_eq!(coerce(&p, &RawParam::Json(serde_json::json!([4]))).unwrap(), Value::Array(vec![Value::Int(4)]));
        let s = param("c", "array<string>");
        assert_eq!(
            coerce(&s, &text(" green , red ")).unwrap(),
            Value::Array(vec![Value::Text(" green ".into()), Value::Text(" red ".into())])
        );
        assert_eq!(
            coerce(&s, &text(r#"["gre,en","red"]"#)).unwrap(),
            Value::Array(vec![Value::Text("gre,en".into()), Value::Text("red".into())])
        );
        assert!(coerce(&p, &text("1,x")).is_err());
        assert!(coerce(&p, &RawParam::Json(serde_json::json!([]))).is_err());
    }

    #[test]
    fn null_list_items_are_refused_with_their_position_in_every_form() {
        for (ty, raw) in [
            ("array<int>", RawParam::Json(serde_json::json!([1, null]))),
            ("array<int>", text("[1,null]")),
            ("array<int>", RawParam::Json(serde_json::json!("[1, null]"))),
            ("array<int>", text("1,null")),
            ("array<int>", text("1, NULL ")),
            ("array<date>", text("2024-01-01,null")),
            ("array<bool>", RawParam::Json(serde_json::json!([true, null]))),
            ("array<string>", RawParam::Json(serde_json::json!(["a", null]))),
            ("array<string>", text(r#"["a",null]"#)),
        ] {
            let err = coerce(&param("ids", ty), &raw).unwrap_err();
            assert_eq!(err.code(), "InvalidParameter.ids", "{ty} {raw:?}");
            let item = ty.trim_start_matches("array<").trim_end_matches('>');
            assert!(
                err.message.ends_with(&format!("item 2 of the list is null; send only {item} values")),
                "{ty} {raw:?}: {}",
                err.message
            );
        }
        // In a comma-separated list of strings, `null` is the word.
        assert_eq!(
            coerce(&param("c", "array<string>"), &text("a,null")).unwrap(),
            Value::Array(vec![Value::Text("a".into()), Value::Text("null".into())])
        );
    }

    #[test]
    fn identifiers_only_take_allowed_values() {
        let mut p = param("sort", "identifier");
        p.allowed_values = vec!["name".into(), "age".into()];
        assert_eq!(coerce(&p, &text("age")).unwrap(), Value::Text("age".into()));
        assert_eq!(coerce(&p, &text("age; DROP TABLE x")).unwrap_err().code(), "InvalidParameter.sort");
    }

    #[test]
    fn parse_applies_defaults_and_required() {
        let mut required = param("id", "int");
        required.required = true;
        let mut defaulted = param("limit", "int");
        defaulted.default = Some("10".into());
        let params = vec![required, defaulted, param("name", "string")];
        let mut raw = HashMap::new();
        assert_eq!(ParamValues::parse(&params, &raw).unwrap_err().code(), "MissingParameter.id");
        raw.insert("id".to_owned(), text("7"));
        let values = ParamValues::parse(&params, &raw).unwrap();
        assert_eq!(values.values, vec![Some(Value::Int(7)), Some(Value::Int(10)), None]);
    }

    #[test]
    fn defaults_are_checked_against_their_type_and_named_by_index() {
        let mut good = param("limit", "int");
        good.default = Some(" 10 ".into());
        assert!(check_default("requestParams", 0, &good).is_ok());
        assert!(check_default("requestParams", 1, &param("name", "string")).is_ok(), "no default, nothing to check");
        let mut bad = param("since", "date");
        bad.default = Some("yesterday".into());
        let error = check_default("requestParams", 2, &bad).unwrap_err();
        assert_eq!(error.field.path(), "requestParams[2].default");
        assert!(error.message.contains("`yesterday`") && error.message.contains("`since`"), "{}", error.message);
        let mut list = param("ids", "array<int>");
        list.default = Some("1,2,x".into());
        assert_eq!(check_default("params", 0, &list).unwrap_err().field.path(), "params[0].default");
    }
}
