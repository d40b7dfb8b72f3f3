//! What an API must look like before it is stored or saved: name, path, method, reading
//! bodies with errors that name the field, and compiling a definition the way the edge will.
//!
//! The name, path and method rules are shared with `sluice check` (`plugins::api_rules`): an API
//! created over REST must be one a declarative file could also describe.

use axum::body::Bytes;
use catalog::model::{ApiDefinition, ApiMode, ApiSettings, Datasource};
use errors::ErrorCode;

use crate::reply::AdminError;
use plugins::DefinitionError;
use plugins::api_rules::{self, PathProblem};

/// API names: 1 to 30 letters, digits and underscores.
pub fn check_name(name: &str) -> Result<(), AdminError> {
    api_rules::check_api_name(name).map_err(|why| AdminError::invalid("name", why))
}

/// The settings with their tags in stored form, or the key at fault and why.
pub fn check_settings(mut settings: ApiSettings) -> Result<ApiSettings, AdminError> {
    settings.tags = ApiSettings::normalize_tags(&settings.tags);
    settings.check().map_err(|(key, why)| AdminError::invalid(key, why))?;
    Ok(settings)
}

/// The method as stored (upper-case), or why it is refused.
pub fn check_method(method: &str) -> Result<String, AdminError> {
    api_rules::normalize_method(method).map_err(|why| AdminError::invalid("method", why))
}

/// The path and its parameters; the first problem names the path or the parameter at fault.
pub fn check_path(path: &str, definition: &ApiDefinition) -> Result<(), AdminError> {
    let (list, params) = definition.caller_params();
    match api_rules::path_problems(path, &params).into_iter().next() {
        None => Ok(()),
        Some(PathProblem { param: Some(name), message }) => {
            Err(AdminError::invalid(&format!("draft.{list}.{name}"), message))
        }
        Some(PathProblem { param: None, message }) => Err(AdminError::invalid("path", message)),
    }
}

/// Compiles a definition as the edge will (SQL modes against their datasource, password
/// opened; registered APIs with their constants opened). The error names the field at fault.
pub fn compile(definition: &ApiDefinition, datasource: Option<&Datasource>) -> Result<(), AdminError> {
    plugins::compile(definition, datasource).map(|_| ()).map_err(definition_error)
}

/// A definition that does not compile: `InvalidDefinition`, naming the field at fault.
pub fn definition_error(error: DefinitionError) -> AdminError {
    AdminError::new(ErrorCode::InvalidDefinition, error.message).in_field(&format!("draft.{}", error.field.path()))
}

pub use crate::body::parse;

/// Reads a definition given as JSON (the `draft` of a body).
pub fn parse_definition(value: serde_json::Value) -> Result<ApiDefinition, AdminError> {
    let bytes = Bytes::from(value.to_string());
    parse(&bytes, "draft.").map_err(|whole| {
        if whole.field.as_deref() != Some("draft") {
            return whole;
        }
        // The mode is flattened into the definition, where serde loses the path; read it alone
        // to name its field (`draft.mode` for an unknown one).
        parse::<ApiMode>(&bytes, "draft.").err().filter(|alone| alone.field != whole.field).unwrap_or(whole)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wizard(params: serde_json::Value) -> ApiDefinition {
        serde_json::from_value(serde_json::json!({
            "datasourceId": 1, "mode": "wizard", "table": "t", "requestParams": params,
            "responseFields": [{"name": "id", "type": "int"}]
        }))
        .unwrap()
    }

    #[test]
    fn names_paths_and_methods_follow_the_declarative_rules() {
        assert!(check_name("orders_by_day_2").is_ok());
        for bad in ["", "has-dash", "has space", &"x".repeat(31)] {
            assert_eq!(check_name(bad).unwrap_err().field.as_deref(), Some("name"), "{bad}");
        }
        assert_eq!(check_method("get").unwrap(), "GET");
        assert_eq!(check_method("PATCH").unwrap_err().field.as_deref(), Some("method"));
        let none = wizard(serde_json::json!([]));
        for bad in ["items", "/a//b", "/a/", "/a?b", "/a/{x", "/a/x{y}"] {
            assert_eq!(check_path(bad, &none).unwrap_err().field.as_deref(), Some("path"), "{bad}");
        }
        assert!(check_path("/", &none).is_ok());
        let by_id = wizard(serde_json::json!([{"name": "id", "type": "int", "column": "id", "position": "path"}]));
        assert!(check_path("/items/{id}", &by_id).is_ok());
        assert_eq!(check_path("/items", &by_id).unwrap_err().field.as_deref(), Some("draft.requestParams.id"));
        assert_eq!(check_path("/items/{key}", &by_id).unwrap_err().field.as_deref(), Some("path"));
        let query = wizard(serde_json::json!([{"name": "id", "type": "int", "column": "id"}]));
        assert_eq!(check_path("/items/{id}", &query).unwrap_err().field.as_deref(), Some("draft.requestParams.id"));
    }

    #[test]
    fn compile_errors_name_the_field() {
        let ds = Datasource {
            id: 1,
            workgroup_id: 1,
            name: "d".into(),
            kind: catalog::model::DatasourceKind::Sqlite,
            description: String::new(),
            connection: Default::default(),
        };
        let mut def = wizard(serde_json::json!([{"name": "age", "type": "int"}]));
        let err = compile(&def, Some(&ds)).unwrap_err();
        assert_eq!((err.code().as_str(), err.field.as_deref()), ("InvalidDefinition", Some("draft.requestParams.age")));
        def.request_params.clear();
        def.response_fields.clear();
        assert_eq!(compile(&def, Some(&ds)).unwrap_err().field.as_deref(), Some("draft.responseFields"));
        def = wizard(serde_json::json!([]));
        def.mode = ApiMode::Wizard(catalog::model::WizardSpec { table: "bad table;".into() });
        assert_eq!(compile(&def, Some(&ds)).unwrap_err().field.as_deref(), Some("draft.table"));
        def.mode = ApiMode::Script(catalog::model::ScriptSpec { sql: "SELECT 1; SELECT 2".into() });
        assert_eq!(compile(&def, Some(&ds)).unwrap_err().field.as_deref(), Some("draft.sql"));
        // The result cache policy (docs/cache.md).
        let mut def = wizard(serde_json::json!([]));
        def.options.cache =
            Some(catalog::model::CacheOptions { policy: catalog::model::CachePolicy::Custom, ttl_secs: None });
        let err = compile(&def, Some(&ds)).unwrap_err();
        assert_eq!(
            (err.code().as_str(), err.field.as_deref()),
            ("InvalidDefinition", Some("draft.options.cache.ttlSecs"))
        );
    }

    #[test]
    fn bodies_name_missing_and_unknown_fields() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            name: String,
        }
        assert_eq!(parse::<B>(b"{}", "").unwrap_err().field.as_deref(), Some("name"));
        assert_eq!(parse::<B>(br#"{"name":"a","tags":[]}"#, "").unwrap_err().field.as_deref(), Some("tags"));
        assert_eq!(parse::<B>(b"nope", "").unwrap_err().field.as_deref(), Some("body"));
        assert_eq!(parse::<B>(br#"{"name":"a"} x"#, "").unwrap_err().field.as_deref(), Some("body"));
        assert_eq!(parse::<B>(br#"{"name":1}"#, "").unwrap_err().field.as_deref(), Some("name"));
        let nested = serde_json::json!({"datasourceId": 1, "mode": "wizard", "table": "t", "requestParams": [{}]});
        let err = parse_definition(nested).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("draft.requestParams[0].name"), "{err:?}");
        assert!(err.message.contains("missing field `name`"), "{err:?}");
        let err = parse_definition(serde_json::json!({"datasourceId": 1, "mode": "magic"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("draft.mode"));
        let err = parse_definition(serde_json::json!({"datasourceId": 1, "mode": "wizard"})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("draft.table"), "{err:?}");
    }
}
