//! Declared types → JSON Schema (2020-12, as OpenAPI 3.1 uses it), and example and default
//! text → JSON values of that type.
//!
//! Requests and responses differ where the edge does: it reads an `int` as a 64-bit integer but
//! answers integers beyond ±(2^53 − 1) as strings, and it always answers decimals as strings.

use catalog::model::{ParamType, ScalarType, SecurityLevel};
use serde_json::Value;
use utoipa::openapi::extensions::{Extensions, ExtensionsBuilder};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{Array, KnownFormat, Object, OneOf, RefOr, Schema, SchemaFormat, Type};

/// The extension naming a parameter's or field's data security level (`L1`…`L4`).
pub const SECURITY_LEVEL_EXTENSION: &str = "x-sluice-security-level";

/// The largest integer every JSON client holds exactly; larger ones are answered as strings.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The most items an array parameter may carry (the edge's `MAX_ARRAY_ITEMS`).
const MAX_ARRAY_ITEMS: usize = 1000;

/// Which way a value travels: the edge reads and writes some types differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

pub fn level_name(level: SecurityLevel) -> &'static str {
    match level {
        SecurityLevel::L1 => "L1",
        SecurityLevel::L2 => "L2",
        SecurityLevel::L3 => "L3",
        SecurityLevel::L4 => "L4",
    }
}

pub fn level_extension(level: SecurityLevel) -> Extensions {
    ExtensionsBuilder::new().add(SECURITY_LEVEL_EXTENSION, level_name(level)).build()
}

fn typed(schema_type: Type, format: Option<KnownFormat>) -> Object {
    let mut object = Object::with_type(schema_type);
    object.format = format.map(SchemaFormat::KnownFormat);
    object
}

fn scalar(scalar: ScalarType, side: Side) -> Schema {
    match (scalar, side) {
        (ScalarType::String, _) => typed(Type::String, None).into(),
        (ScalarType::Int, Side::Request) => typed(Type::Integer, Some(KnownFormat::Int64)).into(),
        (ScalarType::Int, Side::Response) => {
            let mut exact = typed(Type::Integer, Some(KnownFormat::Int64));
            exact.minimum = Some((-MAX_SAFE_INTEGER).into());
            exact.maximum = Some(MAX_SAFE_INTEGER.into());
            let mut text = typed(Type::String, None);
            text.pattern = Some("^-?[0-9]+$".to_owned());
            let mut one_of = OneOf::new();
            one_of.items = vec![RefOr::T(exact.into()), RefOr::T(text.into())];
            Schema::OneOf(one_of)
        }
        (ScalarType::Float, _) => typed(Type::Number, Some(KnownFormat::Double)).into(),
        (ScalarType::Decimal, _) => {
            let mut object = typed(Type::String, None);
            object.format = Some(SchemaFormat::Custom("decimal".to_owned()));
            object.into()
        }
        (ScalarType::Bool, _) => typed(Type::Boolean, None).into(),
        (ScalarType::Date, _) => typed(Type::String, Some(KnownFormat::Date)).into(),
        (ScalarType::DateTime, _) => typed(Type::String, Some(KnownFormat::DateTime)).into(),
        (ScalarType::Json, _) => Object::with_type(SchemaType::AnyValue).into(),
    }
}

/// The schema of a declared type. `allowed` is an identifier's allow-list.
pub fn of_type(param_type: ParamType, allowed: &[String], side: Side) -> Schema {
    match param_type {
        ParamType::Scalar(s) => scalar(s, side),
        ParamType::Array(item) => {
            let mut array = Array::new(scalar(item, side));
            if side == Side::Request {
                array.min_items = Some(1);
                array.max_items = Some(MAX_ARRAY_ITEMS);
            }
            array.into()
        }
        ParamType::Identifier => {
            let mut object = typed(Type::String, None);
            if !allowed.is_empty() {
                object.enum_values = Some(allowed.iter().map(|v| Value::String(v.clone())).collect());
            }
            object.into()
        }
    }
}

/// What a caller should know about a type beyond its schema: how the edge reads or writes it.
pub fn type_note(param_type: ParamType, side: Side) -> Option<&'static str> {
    let item = match param_type {
        ParamType::Scalar(s) => s,
        ParamType::Array(s) => s,
        ParamType::Identifier => return None,
    };
    match (item, side) {
        (ScalarType::Int, Side::Response) => {
            Some("Integers beyond ±9007199254740991 (2^53 − 1) come back as strings, so that no client loses digits.")
        }
        (ScalarType::Decimal, Side::Response) => Some("Decimals come back as strings (\"12.5\"), never as numbers."),
        (ScalarType::Decimal, Side::Request) => {
            Some("A decimal as text (\"12.50\"); a JSON body may also send it as a number.")
        }
        (ScalarType::DateTime, Side::Response) => {
            Some("ISO 8601; ends in `Z` when the column has a time zone, otherwise local time without an offset.")
        }
        (ScalarType::DateTime, Side::Request) => Some("YYYY-MM-DDTHH:MM:SS (ISO 8601)."),
        _ => None,
    }
}

/// Lets `null` through as well (a response field that may be NULL).
pub fn nullable(schema: Schema) -> Schema {
    match schema {
        Schema::Object(mut object) => {
            object.schema_type = match object.schema_type {
                SchemaType::Type(t) => SchemaType::Array(vec![t, Type::Null]),
                SchemaType::Array(mut types) => {
                    if !types.contains(&Type::Null) {
                        types.push(Type::Null);
                    }
                    SchemaType::Array(types)
                }
                // Any value already includes null.
                other => other,
            };
            Schema::Object(object)
        }
        Schema::Array(mut array) => {
            array.schema_type = SchemaType::Array(vec![Type::Array, Type::Null]);
            Schema::Array(array)
        }
        Schema::OneOf(mut one_of) => {
            one_of.items.push(RefOr::T(Object::with_type(Type::Null).into()));
            Schema::OneOf(one_of)
        }
        other => other,
    }
}

/// Sets description, examples, default and extensions on whichever kind of schema this is.
/// A schema an API declares (JSON Schema, as an imported document gave it), when it reads as
/// an OpenAPI 3.1 schema object.
pub fn declared(value: &Value) -> Option<Schema> {
    serde_json::from_value(value.clone()).ok()
}

pub fn annotate(
    mut schema: Schema,
    description: Option<String>,
    example: Option<Value>,
    default: Option<Value>,
    extensions: Option<Extensions>,
) -> Schema {
    let examples: Vec<Value> = example.into_iter().collect();
    match &mut schema {
        Schema::Object(o) => {
            o.description = description;
            o.examples = examples;
            o.default = default;
            o.extensions = extensions;
        }
        Schema::Array(a) => {
            a.description = description;
            a.examples = examples;
            a.default = default;
            a.extensions = extensions;
        }
        Schema::OneOf(o) => {
            o.description = description;
            o.examples = examples;
            o.default = default;
            o.extensions = extensions;
        }
        _ => {}
    }
    schema
}

/// Example or default text (written in the parameter's type, as definitions write it) as the
/// JSON value a caller would send; text that does not read as the type stays text.
pub fn value_of(param_type: ParamType, text: &str, side: Side) -> Value {
    match param_type {
        ParamType::Scalar(s) => scalar_value(s, text, side),
        ParamType::Identifier => Value::String(text.to_owned()),
        ParamType::Array(item) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('[')
                && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(trimmed)
            {
                return Value::Array(
                    items
                        .into_iter()
                        .map(|v| match v {
                            Value::String(s) => scalar_value(item, &s, side),
                            other => other,
                        })
                        .collect(),
                );
            }
            Value::Array(text.split(',').map(|part| scalar_value(item, part, side)).collect())
        }
    }
}

fn scalar_value(scalar: ScalarType, text: &str, side: Side) -> Value {
    let t = text.trim();
    let parsed = match scalar {
        ScalarType::Int => t.parse::<i64>().ok().map(|n| {
            if side == Side::Response && !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) {
                Value::String(n.to_string())
            } else {
                Value::from(n)
            }
        }),
        ScalarType::Float => t.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
        ScalarType::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        ScalarType::Json => serde_json::from_str(t).ok(),
        ScalarType::String | ScalarType::Decimal | ScalarType::Date | ScalarType::DateTime => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(schema: Schema) -> Value {
        serde_json::to_value(schema).unwrap()
    }

    #[test]
    fn examples_take_the_declared_type() {
        let int_array: ParamType = "array<int>".parse().unwrap();
        assert_eq!(value_of(int_array, "1,2,3", Side::Request), serde_json::json!([1, 2, 3]));
        assert_eq!(value_of(int_array, "[4, \"5\"]", Side::Request), serde_json::json!([4, 5]));
        assert_eq!(value_of(ParamType::INT, "abc", Side::Request), serde_json::json!("abc"));
        assert_eq!(value_of(ParamType::INT, "9007199254740993", Side::Response), serde_json::json!("9007199254740993"));
        assert_eq!(value_of("bool".parse().unwrap(), "1", Side::Request), serde_json::json!(true));
        assert_eq!(value_of("decimal".parse().unwrap(), "12.50", Side::Response), serde_json::json!("12.50"));
        assert_eq!(value_of("json".parse().unwrap(), "{\"a\":1}", Side::Request), serde_json::json!({"a": 1}));
    }

    #[test]
    fn response_integers_allow_the_string_form_and_null() {
        let schema = json(nullable(of_type(ParamType::INT, &[], Side::Response)));
        let one_of = schema["oneOf"].as_array().unwrap();
        assert_eq!(one_of[0]["maximum"], serde_json::json!(MAX_SAFE_INTEGER));
        assert_eq!(one_of[1]["type"], "string");
        assert_eq!(one_of[2]["type"], "null");
        let text = json(nullable(of_type(ParamType::STRING, &[], Side::Response)));
        assert_eq!(text["type"], serde_json::json!(["string", "null"]));
        assert_eq!(json(nullable(of_type("json".parse().unwrap(), &[], Side::Response))), serde_json::json!({}));
    }
}
