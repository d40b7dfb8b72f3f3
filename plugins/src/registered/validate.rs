//! Schema validation of a registered API's calls (`RegisteredSpec::validation`): the JSON
//! Schemas compiled once per version, with the route, and each call's typed parameters and
//! upstream JSON body checked against them before anything goes upstream.
//!
//! Schemas are compiled offline (a `$ref` outside the schema is refused, nothing is fetched)
//! and against their meta-schema, so a schema that cannot be applied is refused when the API
//! is saved, naming the parameter. `format` is an annotation, as in draft 2020-12: the
//! parameter types already check dates and numbers. A failed check answers the first problem
//! with its JSON pointer, without repeating the caller's value.

use catalog::model::{ParamType, RequestParam, ScalarType, SchemaValidation};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::{ApiError, DefinitionError, ErrorCode};

/// The longest pointer or explanation a failure repeats: both may hold the caller's text
/// (property names).
const ECHO_LIMIT: usize = 120;

/// A version's compiled schemas; only built when validation is enabled.
#[derive(Debug)]
pub(super) struct CallSchemas {
    /// The index of each checked parameter in the route's parameters, and its schema.
    params: Vec<(usize, Validator)>,
    /// The schema of the upstream body made of the body parameters.
    body: Option<Validator>,
}

/// Compiles a JSON Schema as the edge applies it; the error says why it cannot be.
pub fn compile_schema(schema: &Value) -> Result<Validator, String> {
    #[cfg(test)]
    tests::COMPILED.with(|count| count.set(count.get() + 1));
    jsonschema::options().offline().should_validate_formats(false).build(schema).map_err(|e| cut(&e.to_string()))
}

impl CallSchemas {
    /// Compiles `validation` for the route's parameters (`params`, in the spec's order);
    /// `has_body_params`: some parameter goes to the upstream body. Every
    /// schema is compiled, enabled or not, so that turning validation on cannot fail later;
    /// `None` when validation is off.
    pub(super) fn compile(
        validation: &SchemaValidation,
        params: &[RequestParam],
        has_body_params: bool,
    ) -> Result<Option<CallSchemas>, DefinitionError> {
        let mut compiled = Vec::with_capacity(validation.params.len());
        for (name, schema) in &validation.params {
            let error = |why: String| DefinitionError::item("validation.params", name, why);
            let index = params
                .iter()
                .position(|p| &p.name == name)
                .ok_or_else(|| error(format!("validation.params names `{name}`, which is not a parameter")))?;
            let validator = compile_schema(schema)
                .map_err(|why| error(format!("the schema of parameter `{name}` cannot be applied: {why}")))?;
            compiled.push((index, validator));
        }
        let body = match &validation.body {
            None => None,
            Some(_) if !has_body_params => {
                return Err(DefinitionError::at(
                    "validation.body",
                    "validation.body checks the upstream body made of body parameters, and no parameter goes there",
                ));
            }
            Some(schema) => Some(compile_schema(schema).map_err(|why| {
                DefinitionError::at("validation.body", format!("the body schema cannot be applied: {why}"))
            })?),
        };
        if !validation.enabled {
            return Ok(None);
        }
        Ok(Some(CallSchemas { params: compiled, body }))
    }

    /// Checks each parameter the call has (sent or defaulted) against its schema:
    /// `InvalidParameter.<name>` for the first that fails. `value_of(i)` is the typed JSON of
    /// `params[i]`, when the call has it.
    pub(super) fn check_params<'v>(
        &self,
        params: &[RequestParam],
        value_of: impl Fn(usize) -> Option<&'v Value>,
    ) -> Result<(), ApiError> {
        for (index, validator) in &self.params {
            let Some(value) = value_of(*index) else { continue };
            let param = &params[*index];
            let decimal;
            // A decimal travels as text to keep its digits; its schema speaks of a number.
            let value = match (param.param_type, value) {
                (ParamType::Scalar(ScalarType::Decimal), Value::String(text)) => {
                    decimal = text.parse::<serde_json::Number>().map(Value::Number).unwrap_or_else(|_| value.clone());
                    &decimal
                }
                _ => value,
            };
            // `is_valid` first: it tracks no locations, so the common case costs least.
            if validator.is_valid(value) {
                continue;
            }
            if let Err(error) = validator.validate(value) {
                return Err(ApiError::invalid_parameter_because(&param.name, explain(&error)));
            }
        }
        Ok(())
    }

    /// Checks the upstream body made of the body parameters, when the call has any:
    /// `InvalidRequest.Body` naming the pointer at fault.
    pub(super) fn check_body(&self, body: &Value) -> Result<(), ApiError> {
        let Some(validator) = &self.body else { return Ok(()) };
        if body.as_object().is_some_and(serde_json::Map::is_empty) {
            return Ok(()); // an optional body left out
        }
        if validator.is_valid(body) {
            return Ok(());
        }
        validator.validate(body).map_err(|error| {
            ApiError::new(
                ErrorCode::InvalidRequestBody,
                format!("the body does not match its schema: {}", explain(&error)),
            )
        })
    }
}

/// What failed and where: "at `/tags/0`, the value is not of type \"string\"" (no pointer for
/// the value itself). The caller's value is never repeated; pointers and texts are cut short.
/// Where an upstream's answer differs from its declared schema: the test console's check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AnswerMismatch {
    /// The JSON pointer into the answer (`""`: the answer itself).
    pub pointer: String,
    pub message: String,
}

/// Checks an upstream's answer against `schema` (`SchemaValidation::response`): at most
/// `limit` mismatches, none when it matches. The error says why the schema cannot be applied.
/// Messages may quote the answer: only the API's developers see them.
pub fn answer_mismatches(schema: &Value, answer: &Value, limit: usize) -> Result<Vec<AnswerMismatch>, String> {
    let validator = compile_schema(schema)?;
    let mismatches = validator
        .iter_errors(answer)
        .take(limit)
        .map(|error| AnswerMismatch { pointer: cut(error.instance_path().as_str()), message: cut(&error.to_string()) })
        .collect();
    Ok(mismatches)
}

fn explain(error: &ValidationError<'_>) -> String {
    let why = cut(&error.masked_with("the value").to_string());
    let pointer = error.instance_path().as_str();
    if pointer.is_empty() { why } else { format!("at `{}`, {why}", cut(pointer)) }
}

/// At most [`ECHO_LIMIT`] characters, with an ellipsis when cut.
fn cut(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(ECHO_LIMIT).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}

#[cfg(test)]
pub(super) mod tests {
    use std::cell::Cell;

    use serde_json::json;

    use super::*;

    thread_local! {
        /// Schemas compiled on this thread: each test runs on its own.
        pub(crate) static COMPILED: Cell<usize> = const { Cell::new(0) };
    }

    fn param(name: &str, param_type: ParamType) -> RequestParam {
        RequestParam::new(name, param_type)
    }

    fn validation(params: Value, body: Option<Value>) -> SchemaValidation {
        SchemaValidation { enabled: true, params: serde_json::from_value(params).unwrap(), body, response: None }
    }

    #[test]
    fn answers_are_checked_against_the_declared_schema() {
        let schema = json!({"type": "array", "items": {"type": "object", "required": ["id"],
                            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}});
        assert_eq!(answer_mismatches(&schema, &json!([{"id": 1, "name": "a"}]), 10).unwrap(), []);
        let found = answer_mismatches(&schema, &json!([{"id": "1"}, {"name": 2}, {"id": 3}]), 10).unwrap();
        let pointers: Vec<&str> = found.iter().map(|m| m.pointer.as_str()).collect();
        assert_eq!(pointers.len(), 3, "{found:?}");
        assert!(pointers.contains(&"/0/id") && pointers.contains(&"/1") && pointers.contains(&"/1/name"), "{found:?}");
        assert_eq!(answer_mismatches(&schema, &json!([{"id": "1"}, {"name": 2}]), 1).unwrap().len(), 1);
        assert!(answer_mismatches(&json!({"type": 12}), &json!(1), 10).is_err());
    }

    #[test]
    fn failures_name_the_pointer_and_never_repeat_the_value() {
        let params = [param("status", ParamType::STRING), param("tags", ParamType::Scalar(ScalarType::Json))];
        let schemas = CallSchemas::compile(
            &validation(
                json!({"status": {"enum": ["available", "sold"]}, "tags": {"type": "array", "items": {"type": "string"}}}),
                Some(json!({"type": "object", "required": ["owner"], "properties": {"owner": {"required": ["email"]}}})),
            ),
            &params,
            true,
        )
        .unwrap()
        .unwrap();
        let secret = "x".repeat(10_000);
        let status = json!(secret);
        let error = schemas.check_params(&params, |i| [Some(&status), None][i]).unwrap_err();
        assert_eq!((error.code().as_str(), error.status()), ("InvalidParameter.status", 400));
        assert_eq!(error.message, r#"parameter `status`: the value is not one of "available" or "sold""#);

        let tags = json!(["a", 7]);
        let error = schemas.check_params(&params, |i| [None, Some(&tags)][i]).unwrap_err();
        assert_eq!(error.code(), "InvalidParameter.tags");
        assert_eq!(error.message, r#"parameter `tags`: at `/1`, the value is not of type "string""#);
        let (sold, listed) = (json!("sold"), json!(["a"]));
        assert!(schemas.check_params(&params, |i| [Some(&sold), Some(&listed)][i]).is_ok());

        let error = schemas.check_body(&json!({"owner": {"name": "x"}})).unwrap_err();
        assert_eq!((error.code().as_str(), error.status()), ("InvalidRequest.Body", 400));
        assert_eq!(error.message, r#"the body does not match its schema: at `/owner`, "email" is a required property"#);
        assert!(schemas.check_body(&json!({})).is_ok(), "no body parameter sent: nothing to check");
        assert!(schemas.check_body(&json!({"owner": {"email": "a@b"}})).is_ok());

        // A hostile property name is cut short in the pointer.
        let long_key = "k".repeat(5000);
        let error = schemas.check_body(&json!({"owner": {long_key.clone(): {"deep": 1}}, "x": 1})).unwrap_err();
        assert!(error.message.len() < 400, "{}", error.message);
        let deep = (0..100).fold(json!(1), |inner, _| json!({"owner": inner}));
        let error = schemas.check_body(&deep).unwrap_err();
        assert!(error.message.len() < 400, "{}", error.message);
    }

    #[test]
    fn decimals_are_checked_as_numbers() {
        let params = [param("price", ParamType::Scalar(ScalarType::Decimal))];
        let schemas =
            CallSchemas::compile(&validation(json!({"price": {"minimum": 0}}), None), &params, false).unwrap().unwrap();
        let (positive, negative) = (json!("1.50"), json!("-1.5"));
        assert!(schemas.check_params(&params, |_| Some(&positive)).is_ok());
        let error = schemas.check_params(&params, |_| Some(&negative)).unwrap_err();
        assert_eq!(error.message, "parameter `price`: the value is less than the minimum of 0");
    }

    #[test]
    fn schemas_that_cannot_be_applied_are_refused_naming_their_place() {
        let params = [param("id", ParamType::INT)];
        let cases = [
            (validation(json!({"id": {"type": 5}}), None), "validation.params.id", "parameter `id`"),
            (validation(json!({"nope": {}}), None), "validation.params.nope", "not a parameter"),
            (
                validation(json!({"id": {"$ref": "https://example.com/s.json"}}), None),
                "validation.params.id",
                "cannot be applied",
            ),
            (validation(json!({"id": {"pattern": "(("}}), None), "validation.params.id", "cannot be applied"),
            (validation(json!({}), Some(json!({"type": "object"}))), "validation.body", "no parameter goes there"),
        ];
        for (section, field, message) in cases {
            let error = CallSchemas::compile(&section, &params, false).unwrap_err();
            assert_eq!(error.field.path(), field, "{section:?}: {error}");
            assert!(error.message.contains(message), "{section:?}: {error}");
        }
        let error = CallSchemas::compile(&validation(json!({}), Some(json!({"type": 5}))), &params, true).unwrap_err();
        assert_eq!(error.field.path(), "validation.body");
        // Switched off, the schemas are still compiled (and refused) but nothing is checked.
        let off = SchemaValidation { enabled: false, ..validation(json!({"id": {"type": 5}}), None) };
        assert!(CallSchemas::compile(&off, &params, false).is_err());
        let off = SchemaValidation { enabled: false, ..validation(json!({"id": {"minimum": 1}}), None) };
        assert!(CallSchemas::compile(&off, &params, false).unwrap().is_none());
    }
}
